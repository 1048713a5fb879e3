import FormatConversion
import Testing

@Suite struct JSONParserTests {
    @Test func parsesAndWritesBackInMemberOrder() throws {
        let text = #"{"b":1,"a":[true,false,null,-1.5e2,"x\"\\\/\n\u00e9\ud83d\ude00"],"c":{}}"#
        let value = try JSONParser.parse(text)
        #expect(value["b"]?.int == 1)
        #expect(value["a"]?.array?[3].double == -150)
        #expect(value["a"]?.array?[4].string == "x\"\\/\n\u{e9}\u{1F600}")
        #expect(JSONWriter.string(value) == "{\"b\":1,\"a\":[true,false,null,-150,\"x\\\"\\\\/\\n\u{e9}\u{1F600}\"],\"c\":{}}")
    }

    @Test(arguments: [
        "", "{", "[1,]", #"{"a":}"#, "01", "1.", "-", "tru", #""\x""#, #""\ud800""#, "{} {}", #"{"a" 1}"#, "\"\u{01}\"", "[1 2]",
    ])
    func refusesMalformedDocuments(text: String) {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(text) }
    }

    @Test func refusesNestingPastTheLimitWithoutCrashing() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(deep) }
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: Never.self) { try JSONParser.parse(fine) }
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x22, 0xFF, 0x22]) }
    }
}
