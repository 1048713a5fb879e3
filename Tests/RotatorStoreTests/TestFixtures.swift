import Foundation
import RotatorCore
import RotatorStore
import Synchronization

enum TestFixtures {
    static let cipher: KeyCipher = {
        do {
            return try KeyCipher(base64: KeyCipher.generateKeyBase64())
        } catch {
            fatalError("a generated key must be accepted: \(error)")
        }
    }()

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
