import Foundation
import RotatorHTTP
import RotatorStore
import Testing

@testable import RotatorAdmin

/// Admin inputs check their own rules once decoded, and every rule or store failure becomes one HTTP answer in one place.
@Suite struct AdminInputTests {
    private func decoded<T: AdminInput>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(json.utf8))
    }

    /// What `validate()` refuses, or nil when the input passes.
    private func refusal(_ input: some AdminInput) -> String? {
        do {
            try input.validate()
            return nil
        } catch {
            return error.message
        }
    }

    @Test func aKeyMustPassTheImportRule() throws {
        #expect(refusal(try decoded(KeyInput.self, #"{"key_value":"sk-valid-key-123"}"#)) == nil)
        #expect(refusal(try decoded(KeyInput.self, #"{"key_value":""}"#)) == "field 'key_value' must not be blank")
        #expect(refusal(try decoded(KeyInput.self, #"{"key_value":"two keys"}"#))
            == "field 'key_value' must be printable ASCII without spaces or control characters")
        let tooLong = String(repeating: "k", count: KeySecretPolicy.maximumLength + 1)
        #expect(refusal(KeyInput(key_value: tooLong)) == "field 'key_value' must be at most \(KeySecretPolicy.maximumLength) characters")
    }

    @Test func aBatchIsBoundedAndNamesItsLongKey() throws {
        let tooLong = String(repeating: "k", count: KeySecretPolicy.maximumLength + 1)
        #expect(refusal(BatchInput(keys: ["a", "", "b"])) == nil, "empty lines are the store's to skip")
        #expect(refusal(BatchInput(keys: ["a", tooLong]))
            == "field 'keys[1]' is longer than \(KeySecretPolicy.maximumLength) characters")
        #expect(refusal(BatchInput(keys: Array(repeating: "k", count: BatchInput.maximumCount + 1)))
            == "field 'keys' holds at most \(BatchInput.maximumCount) keys per call")
    }

    @Test func storeFailuresAndBrokenRulesMapOnce() {
        #expect(APIError(StoreError.conflict("slug taken")).status == .conflict)
        #expect(APIError(StoreError.notFound("no key")).status == .notFound)
        let unavailable = APIError(StoreError.unavailable("connection refused"))
        #expect(unavailable.status == .serviceUnavailable)
        #expect(unavailable.message == "the database is unavailable, nothing was changed; retry shortly (connection refused)")
        #expect(APIError(StoreError.corrupt("bad row")).status == .internalServerError)
        #expect(APIError(ValidationError("field 'name' is required")).status == .unprocessableContent)
        #expect(APIError(ValidationError(conflict: "slug taken")).status == .conflict)
    }
}
