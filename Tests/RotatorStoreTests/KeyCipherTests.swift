import Foundation
import RotatorStore
import Testing

@Suite("KeyCipher")
struct KeyCipherTests {
    let cipher = TestFixtures.cipher
    let row = KeyRowBinding(configID: 7, fingerprint: String(repeating: "ab", count: 32))

    @Test func roundTrips() throws {
        for secret in ["sk-proj-abc123", "ключ-🔑-κλειδί", "x", String(repeating: "a", count: 5000)] {
            let stored = try cipher.encrypt(secret, for: row)
            #expect(stored.hasPrefix("v2:"))
            if secret.count > 8 { #expect(!stored.contains(secret)) }
            #expect(try cipher.decrypt(stored, for: row) == secret)
        }
    }

    @Test func usesAFreshNoncePerEncryption() throws {
        let first = try cipher.encrypt("sk-same", for: row)
        let second = try cipher.encrypt("sk-same", for: row)
        #expect(first != second)
        // nonce (12) + ciphertext (7) + tag (16)
        #expect(Data(base64Encoded: String(first.dropFirst(3)))?.count == 12 + 7 + 16)
    }

    @Test func detectsTampering() throws {
        let stored = try cipher.encrypt("sk-tamper-me-please", for: row)
        var bytes = try #require(Data(base64Encoded: String(stored.dropFirst(3))))
        for position in [0, 14, bytes.count - 1] {  // nonce, ciphertext, tag
            bytes[position] ^= 0x01
            #expect(throws: KeyCipherError.authenticationFailed) {
                try cipher.decrypt("v2:" + bytes.base64EncodedString(), for: row)
            }
            bytes[position] ^= 0x01
        }
        #expect(try cipher.decrypt("v2:" + bytes.base64EncodedString(), for: row) == "sk-tamper-me-please")
    }

    @Test func aCiphertextOnlyOpensInItsOwnRow() throws {
        let stored = try cipher.encrypt("sk-bound-to-its-row", for: row)
        let otherConfig = KeyRowBinding(configID: row.configID + 1, fingerprint: row.fingerprint)
        let otherKey = KeyRowBinding(configID: row.configID, fingerprint: String(repeating: "cd", count: 32))
        for other in [otherConfig, otherKey] {
            #expect(throws: KeyCipherError.authenticationFailed) { try cipher.decrypt(stored, for: other) }
        }
        #expect(try cipher.decrypt(stored, for: row) == "sk-bound-to-its-row")
    }

    @Test func keyCheckIdentifiesTheMasterKeyOnly() throws {
        let same = try KeyCipher(base64: KeyCipher.generateKeyBase64())
        let other = try KeyCipher(base64: KeyCipher.generateKeyBase64())
        #expect(same.keyCheck == same.keyCheck)
        #expect(same.keyCheck != other.keyCheck)
        #expect(same.keyCheck.hasPrefix("v1:") && same.keyCheck.count == 3 + 64)
        #expect(same.keyCheck.dropFirst(3) != Substring(same.fingerprint("rotator encryption key check")))
    }

    @Test func wrongKeyFails() throws {
        let stored = try cipher.encrypt("sk-secret", for: row)
        let other = try KeyCipher(base64: KeyCipher.generateKeyBase64())
        #expect(throws: KeyCipherError.authenticationFailed) { try other.decrypt(stored, for: row) }
    }

    @Test func rejectsMalformedText() throws {
        // A `v1:` text (unbound, the old format) is never opened for serving: the migration rebinds those.
        let legacy = try TestFixtures.legacyCiphertext("sk-old", cipherKey: TestFixtures.cipherKey)
        for stored in ["", "sk-plain", "v2:AAAA", "v2:not base64!", "v2:" + Data(count: 20).base64EncodedString(), legacy] {
            #expect(throws: KeyCipherError.malformedCiphertext) { try cipher.decrypt(stored, for: row) }
        }
    }

    @Test func fingerprintIsStableKeyedHex() throws {
        let fingerprint = cipher.fingerprint("sk-abc")
        #expect(fingerprint.count == 64)
        #expect(fingerprint.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(cipher.fingerprint("sk-abc") == fingerprint)
        #expect(cipher.fingerprint("sk-abd") != fingerprint)
        let other = try KeyCipher(base64: KeyCipher.generateKeyBase64())
        #expect(other.fingerprint("sk-abc") != fingerprint)
    }

    @Test func fingerprintMatchesHKDFDerivedHMAC() throws {
        // Pins the derivation so fingerprints stay comparable across releases (they sit in a unique index).
        let cipher = try KeyCipher(masterKey: [UInt8](repeating: 7, count: 32))
        #expect(cipher.fingerprint("sk-test") == Self.pinnedFingerprint)
    }

    @Test(arguments: [0, 16, 31, 33, 64])
    func rejectsMasterKeysOfTheWrongLength(_ length: Int) {
        let message = "ENCRYPTION_KEY must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)"
        let encoded = Data(repeating: 1, count: length).base64EncodedString()
        #expect(throws: KeyCipherError.invalidMasterKey) { try KeyCipher(base64: encoded) }
        #expect(throws: KeyCipherError.invalidMasterKey) { try KeyCipher(masterKey: [UInt8](repeating: 1, count: length)) }
        #expect(KeyCipherError.invalidMasterKey.description == message)
        do {
            _ = try KeyCipher(base64: encoded)
        } catch {
            #expect("\(error)" == message)
        }
    }

    @Test func rejectsNonBase64MasterKeys() {
        #expect(throws: KeyCipherError.invalidMasterKey) { try KeyCipher(base64: "not base64 at all, no way") }
        #expect(throws: KeyCipherError.invalidMasterKey) { try KeyCipher(base64: "") }
    }

    @Test func acceptsGeneratedKeysWithSurroundingWhitespace() throws {
        let encoded = KeyCipher.generateKeyBase64()
        #expect(Data(base64Encoded: encoded)?.count == 32)
        #expect(KeyCipher.generateKeyBase64() != encoded)
        let cipher = try KeyCipher(base64: " \(encoded)\n")
        let same = try KeyCipher(base64: encoded)
        #expect(try same.decrypt(try cipher.encrypt("sk-x", for: row), for: row) == "sk-x")
    }

    // HKDF-SHA256(ikm: 32 × 0x07, salt: none, info: "rotator-key-fingerprint", 32 bytes), then HMAC-SHA256("sk-test"),
    // computed independently with Python's hmac/hashlib.
    static let pinnedFingerprint = "7ff6becdff2e37234088d5af13a49adc90bc98f53a7e67938d9612a7f7b234bb"
}
