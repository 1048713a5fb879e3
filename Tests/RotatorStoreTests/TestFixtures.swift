import Crypto
import Foundation
import Testing
import RotatorCore
import RotatorStore
import Synchronization

enum TestFixtures {
    /// The master key of `cipher`, base64.
    static let cipherKey = KeyCipher.generateKeyBase64()

    static let cipher: KeyCipher = {
        do {
            return try KeyCipher(base64: cipherKey)
        } catch {
            fatalError("a generated key must be accepted: \(error)")
        }
    }()

    /// A key as releases before row binding stored it: `v1:` + base64(nonce ‖ ciphertext ‖ tag), AES-256-GCM
    /// without associated data. Built here with swift-crypto directly, independently of `KeyCipher`.
    static func legacyCiphertext(_ secret: String, cipherKey: String) throws -> String {
        let key = SymmetricKey(data: try #require(Data(base64Encoded: cipherKey)))
        let sealed = try AES.GCM.seal(Array(secret.utf8), using: key)
        return "v1:" + (try #require(sealed.combined)).base64EncodedString()
    }

    static func draft(
        slug: String = "openai",
        name: String = "OpenAI",
        isActive: Bool = true,
        keyRPM: Int = 0
    ) -> ProxyConfigDraft {
        ProxyConfigDraft(
            name: name, slug: slug, configType: .llm, apiKeyLocation: .header, apiKeyName: "Authorization",
            isActive: isActive, method: nil, targetURL: nil, targetBaseURL: "https://api.openai.com/v1",
            apiFormat: .openAICompatible, outputFormat: nil, keyRPM: keyRPM
        )
    }

    static let genericDraft = ProxyConfigDraft(
        name: "Weather", slug: "weather", configType: .generic, apiKeyLocation: .query, apiKeyName: "appid",
        isActive: false, method: "GET", targetURL: "https://api.weather.example/data", targetBaseURL: nil,
        apiFormat: .openAICompatible, outputFormat: "json", keyRPM: 30
    )

    /// A realistic-looking secret, unique per call.
    static func secret(_ label: String = "key") -> String {
        "sk-\(label)-\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased())"
    }
}

/// A clock tests can move.
final class TestClock: Sendable {
    private let milliseconds: Mutex<Int64>

    init(_ start: Date = Date(timeIntervalSince1970: 1_700_000_000)) {
        milliseconds = Mutex(Int64(start.timeIntervalSince1970 * 1000))
    }

    var now: Date { Date(timeIntervalSince1970: Double(milliseconds.withLock { $0 }) / 1000) }

    func advance(seconds: Int64) { milliseconds.withLock { $0 += seconds * 1000 } }
}
