import ClientAccess
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A client key's settings as an admin gives them: everything but its secret and its dates of record.
public struct ClientKeyDraft: Sendable, Equatable {
    /// Longest name, in characters (Unicode scalars): what `client_keys.name` holds in both dialects.
    public static let maximumNameLength = 100

    public var name: String
    public var note: String?
    public var enabled: Bool
    public var expiresAt: Date?
    public var allowedConfigs: [String]?
    public var allowedModels: [ModelPattern]?
    public var limits: ClientKeyLimits

    public init(
        name: String, note: String? = nil, enabled: Bool = true, expiresAt: Date? = nil, allowedConfigs: [String]? = nil,
        allowedModels: [ModelPattern]? = nil, limits: ClientKeyLimits = ClientKeyLimits()
    ) {
        self.name = name
        self.note = note
        self.enabled = enabled
        self.expiresAt = expiresAt
        self.allowedConfigs = allowedConfigs
        self.allowedModels = allowedModels
        self.limits = limits
    }

    /// The settings of a stored key (what a PUT starts from).
    public init(_ key: ClientKey) {
        self.init(
            name: key.name, note: key.note, enabled: key.enabled, expiresAt: key.expiresAt, allowedConfigs: key.allowedConfigs,
            allowedModels: key.allowedModels, limits: key.limits
        )
    }
}

/// A client key with its whole secret: what creating or rotating a key answers, once. The secret is not stored.
public struct IssuedClientKey: Sendable {
    public var key: ClientKey
    public var secret: String

    public init(key: ClientKey, secret: String) {
        self.key = key
        self.secret = secret
    }
}

/// One page of the live (not revoked) client keys, by id.
public struct ClientKeyPage: Sendable, Equatable {
    public var keys: [ClientKey]
    /// Live keys matching the search, on every page.
    public var total: Int

    public init(keys: [ClientKey], total: Int) {
        self.keys = keys
        self.total = total
    }
}
