import Foundation
import RequestIdentity
import Testing

@Suite struct RequestIdentifierTests {
    @Test func idsAreVersion4UUIDsAndDiffer() throws {
        let ids = (0..<1000).map { _ in RequestIdentifier.make() }
        #expect(Set(ids).count == ids.count)
        for id in ids.prefix(50) {
            let parsed = try #require(UUID(uuidString: id), "\(id) parses as a UUID")
            #expect(parsed.uuidString.lowercased() == id)
            #expect(Array(id)[14] == "4", "version nibble: \(id)")
            #expect("89ab".contains(Array(id)[19]), "variant nibble: \(id)")
        }
    }
}
