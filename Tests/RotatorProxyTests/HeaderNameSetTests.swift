@testable import RotatorProxy
import Testing

@Suite struct HeaderNameSetTests {
    @Test func matchesWhateverTheASCIICase() {
        let set = HeaderNameSet(["x-api-key", "Connection", "te"])
        for name in ["x-api-key", "X-Api-Key", "X-API-KEY", "connection", "CONNECTION", "te", "TE"] {
            #expect(set.contains(name), "\(name)")
        }
        for name in ["x-api-keys", "x-api-ke", "x_api_key", "", "t", "tE ", "connectioñ", "ｔｅ", "x-api-keý"] {
            #expect(!set.contains(name), "\(name)")
        }
    }

    @Test func bearerPrefixIsCaseInsensitiveAndTheTokenTrimmed() {
        #expect(ClientCredential.bearerToken("Bearer sk-1") == "sk-1")
        #expect(ClientCredential.bearerToken("BEARER  sk-2 ") == "sk-2")
        #expect(ClientCredential.bearerToken("bearer\tsk-3") == nil, "the scheme is followed by a space")
        #expect(ClientCredential.bearerToken("Bearer ") == nil)
        #expect(ClientCredential.bearerToken("Bearer    ") == nil)
        #expect(ClientCredential.bearerToken("Basic abc") == nil)
        #expect(ClientCredential.bearerToken("Bearér sk") == nil)
    }
}
