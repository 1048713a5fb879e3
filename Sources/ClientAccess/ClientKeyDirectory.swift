import Foundation
import RotatorCore
import Synchronization

/// Who a presented secret belongs to.
public enum ClientIdentity: Sendable, Equatable {
    case key(ClientKey)
    /// A client key that may not be used (any more); the 401 says which.
    case refused(ClientKeyRefusal)
    case unknown
}

/// Why a known client key's secret is refused.
public enum ClientKeyRefusal: String, Sendable, Equatable {
    case revoked
    case disabled
    case expired
    /// An older secret of a rotated key whose grace ended.
    case rotated

    public var message: String {
        switch self {
        case .revoked: "this client key was revoked"
        case .disabled: "this client key is disabled"
        case .expired: "this client key has expired"
        case .rotated: "this client key's secret was rotated; use the new secret"
        }
    }
}

/// Every client key of the store, by the keyed hash of its secrets (the current one, and a rotated-out one while its
/// grace lasts or after, to say "rotated"): an immutable snapshot the relay reads per request without I/O.
public struct ClientKeyDirectory: Sendable {
    private enum Secret: Sendable {
        case current
        case previous
    }

    private let byHash: [ClientKeyHash: (key: ClientKey, secret: Secret)]

    public init(_ keys: [ClientKey] = []) {
        var byHash: [ClientKeyHash: (key: ClientKey, secret: Secret)] = [:]
        for key in keys {
            if let previous = key.previousSecretHash { byHash[previous] = (key, .previous) }
            byHash[key.secretHash] = (key, .current)
        }
        self.byHash = byHash
    }

    public var isEmpty: Bool { byHash.isEmpty }

    /// Each key's name by its id (the usage report shows them beside the ids).
    public var namesByID: [Int64: String] {
        Dictionary(byHash.values.map { ($0.key.id, $0.key.name) }, uniquingKeysWith: { first, _ in first })
    }

    public func identify(_ hash: ClientKeyHash, at now: Date) -> ClientIdentity {
        guard let entry = byHash[hash] else { return .unknown }
        let key = entry.key
        if key.revokedAt != nil { return .refused(.revoked) }
        if case .previous = entry.secret, (key.previousSecretValidUntil.map { $0 <= now } ?? true) { return .refused(.rotated) }
        if !key.enabled { return .refused(.disabled) }
        if let expiresAt = key.expiresAt, expiresAt <= now { return .refused(.expired) }
        return .key(key)
    }
}

/// The node's current `ClientKeyDirectory` and the hasher of its secrets: the catalog replaces it when the store's
/// client keys change (here or, through the change messages, on any node); the relay reads it per request.
public final class ClientKeyRegistry: Sendable {
    public let hasher: ClientKeyHasher
    private let current: Mutex<ClientKeyDirectory>

    public init(hasher: ClientKeyHasher, keys: [ClientKey] = []) {
        self.hasher = hasher
        self.current = Mutex(ClientKeyDirectory(keys))
    }

    public func replace(with keys: [ClientKey]) {
        let directory = ClientKeyDirectory(keys)
        current.withLock { $0 = directory }
    }

    public var directory: ClientKeyDirectory { current.withLock { $0 } }

    /// The client key a presented secret belongs to. Costs one HMAC only when the store has client keys, and none when
    /// `memo` (the connection's) already hashed this same secret.
    public func identify(secret: String, at now: Date = Date(), memo: PresentedSecretMemo? = nil) -> ClientIdentity {
        let directory = self.directory
        guard !directory.isEmpty, secret.utf8.starts(with: ClientKeySecret.prefix.utf8) else { return .unknown }
        return directory.identify(memo?.hash(secret, with: hasher) ?? hasher.hash(secret), at: now)
    }
}

/// The keyed hash of the client-key secret a client connection presented last. A client sends the same key on every
/// request of a kept-alive connection, so its later requests skip the HMAC (about 1 µs); the lookup by hash still runs
/// per request, so a revoked, disabled, expired or rotated key is refused exactly as without the memo. Confined to its
/// connection's event loop; it holds what the connection's own request headers held.
public final class PresentedSecretMemo {
    private var secret: String?
    private var hash: ClientKeyHash?

    public init() {}

    func hash(_ presented: String, with hasher: ClientKeyHasher) -> ClientKeyHash {
        if let hash, let secret, ConstantTime.equals(secret, presented) { return hash }
        let hash = hasher.hash(presented)
        (secret, self.hash) = (presented, hash)
        return hash
    }
}

extension ClientKeyHash {
    /// Compared in constant time (a lookup by hash never tells how much of a guess matched).
    public static func == (lhs: ClientKeyHash, rhs: ClientKeyHash) -> Bool {
        ConstantTime.equals(lhs.bytes, rhs.bytes)
    }
}
