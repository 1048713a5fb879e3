import Foundation

/// A key the operator gave one team or app: what it may call, how much, and until when. Its secret is never kept:
/// only its keyed hash (`ClientKeyHash`) and a masked hint to recognise it by.
public struct ClientKey: Sendable, Equatable, Identifiable {
    public var id: Int64
    public var name: String
    public var note: String?
    public var enabled: Bool
    public var expiresAt: Date?
    /// Config slugs the key may call; nil: every config.
    public var allowedConfigs: [String]?
    /// Models the key may name; nil: every model.
    public var allowedModels: [ModelPattern]?
    public var limits: ClientKeyLimits
    public var secretHash: ClientKeyHash
    /// `rk-Ab…xY9z`: enough to recognise the key, never enough to use it.
    public var secretHint: String
    /// The secret the last rotation replaced, still accepted until `previousSecretValidUntil`.
    public var previousSecretHash: ClientKeyHash?
    public var previousSecretValidUntil: Date?
    /// Set when the key was deleted: its secret is then refused as revoked (not as unknown).
    public var revokedAt: Date?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: Int64, name: String, note: String? = nil, enabled: Bool = true, expiresAt: Date? = nil, allowedConfigs: [String]? = nil,
        allowedModels: [ModelPattern]? = nil, limits: ClientKeyLimits = ClientKeyLimits(), secretHash: ClientKeyHash, secretHint: String,
        previousSecretHash: ClientKeyHash? = nil, previousSecretValidUntil: Date? = nil, revokedAt: Date? = nil,
        createdAt: Date = Date(), updatedAt: Date = Date()
    ) {
        self.id = id
        self.name = name
        self.note = note
        self.enabled = enabled
        self.expiresAt = expiresAt
        self.allowedConfigs = allowedConfigs
        self.allowedModels = allowedModels
        self.limits = limits
        self.secretHash = secretHash
        self.secretHint = secretHint
        self.previousSecretHash = previousSecretHash
        self.previousSecretValidUntil = previousSecretValidUntil
        self.revokedAt = revokedAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// Whether the key may call the config with this slug.
    public func allows(config slug: String) -> Bool {
        allowedConfigs.map { $0.contains(slug) } ?? true
    }

    /// Whether the key may name this model (nil: the request names none; only a key without a model list may send it).
    public func allows(model: String?) -> Bool {
        guard let allowedModels else { return true }
        guard let model else { return false }
        return allowedModels.contains { $0.matches(model) }
    }

    /// Whether a request of this key needs its model read from the request (a model list, or token limits to reserve).
    public var needsModel: Bool { allowedModels != nil }
}
