import ConfigCatalog
import Foundation
import MariaDBDriver
import RedisClient
import RotatorAdmin
import RotatorApp
import RotatorCore
import RotatorProxy
import RotatorStore
import Testing

/// Every type that holds a secret prints without it, whichever way it is printed.
@Suite struct SecretRedactionTests {
    static let password = "pw-Very-Secret-0123456789"
    static let jwtSecret = "jwt-Very-Secret-0123456789"
    static let proxyKey = "rk-Very-Secret-0123456789"
    static let upstreamKey = "sk-Very-Secret-0123456789abcdef"
    static let encryptionKey = KeyCipher.generateKeyBase64()
    static var everySecret: [String] { [password, jwtSecret, proxyKey, upstreamKey, encryptionKey, "dbpw-0123456789", "redispw-0123456789"] }

    /// Each way Swift turns a value into text: interpolation, description, debugDescription, dump (reflection),
    /// and a walk over the mirror's children to the leaves.
    static func renderings(_ value: Any) -> [String] {
        var dumped = ""
        dump(value, to: &dumped)
        var leaves: [String] = []
        func walk(_ subject: Any, depth: Int) {
            guard depth < 8 else { return }
            let mirror = Mirror(reflecting: subject)
            if mirror.children.isEmpty { leaves.append(String(describing: subject)) }
            for child in mirror.children { walk(child.value, depth: depth + 1) }
        }
        walk(value, depth: 0)
        return ["\(value)", String(describing: value), String(reflecting: value), dumped, "\([value])"] + leaves
    }

    static func expectRedacted(_ value: Any, sourceLocation: SourceLocation = #_sourceLocation) {
        for text in renderings(value) {
            for secret in everySecret {
                #expect(!text.contains(secret), "a rendering of \(type(of: value)) holds a secret", sourceLocation: sourceLocation)
            }
        }
    }

    @Test func settingsAndTheirParts() throws {
        let settings = try Settings.fromEnvironment([
            "ADMIN_PASSWORD": Self.password, "JWT_SECRET": Self.jwtSecret, "GLOBAL_PROXY_KEYS": Self.proxyKey,
            "ENCRYPTION_KEY": Self.encryptionKey, "DATABASE_URL": "mysql://rotator:dbpw-0123456789@db:3306/rotator",
            "REDIS_URL": "redis://:redispw-0123456789@cache:6379/0",
        ])
        Self.expectRedacted(settings)
        Self.expectRedacted(try #require(settings.mysql))
        Self.expectRedacted(try #require(settings.redis))
        Self.expectRedacted(Optional(settings) as Any)
        // What is not secret is still there to debug with.
        #expect("\(settings)".contains("adminUsername: \"admin\""))
        #expect("\(settings)".contains("adminPassword: <redacted>"))
        #expect("\(try Settings.fromEnvironment([:]))".contains("adminPassword: <unset>"))

        let secrets = try NodeSecrets.resolve(settings)
        Self.expectRedacted(secrets)
    }

    @Test func runtimeHoldersOfSecrets() async throws {
        Self.expectRedacted(AdminSettings(username: "admin", password: Self.password, jwtSecret: Self.jwtSecret, publicBaseURL: "http://x"))
        Self.expectRedacted(await AdminTokens(secret: Self.jwtSecret, password: Self.password, lifetimeSeconds: 60))
        Self.expectRedacted(ProxySettings(proxyKeys: [Self.proxyKey]))
        Self.expectRedacted(UsableKey(id: 1, secret: Self.upstreamKey))
        Self.expectRedacted(try KeyCipher(base64: Self.encryptionKey))
        Self.expectRedacted(RedisConfiguration(host: "cache", password: "redispw-0123456789"))
        Self.expectRedacted(MariaDBConnectionSettings(user: "rotator", password: "dbpw-0123456789", database: "rotator"))
        let config = ProxyConfig(
            id: 1, name: "OpenAI", slug: "openai", configType: .llm, apiKeyLocation: .header, apiKeyName: "Authorization",
            isActive: true, method: nil, targetURL: nil, targetBaseURL: "https://api.openai.com/v1", apiFormat: .openAICompatible,
            outputFormat: nil, keyRPM: 0, createdAt: Date(), updatedAt: Date(), version: 1
        )
        Self.expectRedacted(ServingPool(config: config, keys: [UsableKey(id: 1, secret: Self.upstreamKey)]))
    }

    /// The check must be able to fail: Swift's default rendering of a plain struct shows the secret.
    @Test func theCheckSeesAnUnredactedSecret() {
        struct Plain { var password: String }
        let texts = Self.renderings(Plain(password: Self.password))
        #expect(texts.allSatisfy { $0.contains(Self.password) })
    }
}
