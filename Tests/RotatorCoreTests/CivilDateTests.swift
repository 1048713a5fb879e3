import RotatorCore
import Testing

@Suite struct CivilDateTests {
    @Test func knownDatesAndTheirDayNumbers() {
        #expect(CivilDate(year: 1970, month: 1, day: 1).daysSince1970 == 0)
        #expect(CivilDate(year: 2000, month: 3, day: 1).daysSince1970 == 11_017)
        #expect(CivilDate(year: 1969, month: 12, day: 31).daysSince1970 == -1)
        #expect(CivilDate(daysSince1970: 20_794) == CivilDate(year: 2026, month: 12, day: 7))
        #expect(CivilDate(daysSince1970: 11_016) == CivilDate(year: 2000, month: 2, day: 29), "a leap day")
        #expect(CivilDate(year: 2026, month: 12, day: 7).firstOfMonth.daysSince1970 == 20_788)
    }

    @Test func everyDayRoundTripsAndFollowsTheOneBefore() {
        var previous = CivilDate(daysSince1970: -200_000)
        for days in Int64(-199_999)...Int64(200_000) {
            let date = CivilDate(daysSince1970: days)
            #expect(date.daysSince1970 == days)
            let next = previous.day < 28 ? CivilDate(year: previous.year, month: previous.month, day: previous.day + 1) : nil
            if let next { #expect(date == next) } else { #expect(date.day == previous.day + 1 || date.day == 1) }
            previous = date
        }
    }
}
