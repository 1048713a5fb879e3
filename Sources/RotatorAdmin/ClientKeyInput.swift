import ClientAccess
import Foundation
import RotatorHTTP
import RotatorStore

/// A field of a PUT that may be left out (keep), sent as `null` (clear) or given.
enum InputField<Value: Decodable & Sendable>: Sendable {
    case absent
    case null
    case value(Value)

    func resolved(over current: Value?) -> Value? {
        switch self {
        case .absent: current
        case .null: nil
        case .value(let value): value
        }
    }
}

/// A client key as an admin sends it (`ClientKeyCreate`/`ClientKeyInput` in the OpenAPI document). A field it does not
/// know is refused (400), not ignored: a misspelt limit must not silently leave a key unlimited. Validation against
/// the stored key (PUT) and the configs' slugs gives a `ClientKeyDraft` or a 422 naming the field and what to fix.
struct ClientKeyInput: AdminInput {
    static let fields = [
        "name", "note", "enabled", "expires_at", "allowed_configs", "allowed_models", "rpm", "tpm", "max_concurrent",
        "daily_requests", "monthly_requests", "daily_tokens", "monthly_tokens",
    ]
    /// The largest limit accepted: far beyond any real budget, small enough for exact arithmetic everywhere (Lua's doubles).
    static let maximumLimit: Int64 = 1_000_000_000_000_000
    static let maximumListCount = 200
    static let maximumNoteLength = 1000

    var name: InputField<String> = .absent
    var note: InputField<String> = .absent
    var enabled: InputField<Bool> = .absent
    var expiresAt: InputField<String> = .absent
    var allowedConfigs: InputField<[String]> = .absent
    var allowedModels: InputField<[String]> = .absent
    var limits: [QuotaLimit: InputField<Int64>] = [:]

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        if let unknown = container.allKeys.first(where: { !Self.fields.contains($0.stringValue) }) {
            throw APIError.badRequest(
                "unknown field '\(unknown.stringValue.prefix(60))': a client key has only \(Self.fields.joined(separator: ", "))"
            )
        }
        func field<T: Decodable & Sendable>(_ name: String, _ type: T.Type) throws -> InputField<T> {
            let key = Key(stringValue: name)
            guard container.contains(key) else { return .absent }
            if try container.decodeNil(forKey: key) { return .null }
            do {
                return .value(try container.decode(T.self, forKey: key))
            } catch {  // a DecodingError, or Foundation's own error for a number that is not a whole one
                throw ValidationError("field '\(name)' must be \(Self.expectation(name)) or null")
            }
        }
        name = try field("name", String.self)
        note = try field("note", String.self)
        enabled = try field("enabled", Bool.self)
        expiresAt = try field("expires_at", String.self)
        allowedConfigs = try field("allowed_configs", [String].self)
        allowedModels = try field("allowed_models", [String].self)
        for limit in QuotaLimit.allCases {
            limits[limit] = try field(limit.rawValue, Int64.self)
        }
    }

    private static func expectation(_ field: String) -> String {
        switch field {
        case "name", "note": "a string"
        case "enabled": "true or false"
        case "expires_at": "an ISO 8601 date and time (e.g. 2026-12-31T23:59:59Z)"
        case "allowed_configs": "a list of config slugs"
        case "allowed_models": "a list of model names or 'prefix*' patterns"
        default: "a whole number (0: no limit)"
        }
    }

    /// Validates against `base` (the stored key for PUT, nil for POST) and the slugs configs have now.
    func draft(over base: ClientKey?, knownSlugs: Set<String>) throws(ValidationError) -> ClientKeyDraft {
        guard let givenName = name.resolved(over: base?.name) else { throw ValidationError("field 'name' is required: a name of 1 to 100 characters") }
        let trimmed = ProxyConfigInput.trimmingASCIIBlanks(givenName)
        guard !trimmed.isEmpty else { throw ValidationError("field 'name' must not be blank") }
        guard trimmed.unicodeScalars.count <= ClientKeyDraft.maximumNameLength else {
            throw ValidationError("field 'name' must be at most \(ClientKeyDraft.maximumNameLength) characters")
        }
        if case .null = enabled { throw ValidationError("field 'enabled' must be true or false (it cannot be cleared)") }
        let note = self.note.resolved(over: base?.note).flatMap { $0.isEmpty ? nil : $0 }
        if let note, note.unicodeScalars.count > Self.maximumNoteLength {
            throw ValidationError("field 'note' must be at most \(Self.maximumNoteLength) characters")
        }
        let expiresAt: Date?
        switch self.expiresAt {
        case .absent: expiresAt = base?.expiresAt
        case .null: expiresAt = nil
        case .value(let text): expiresAt = try Self.date(text)
        }
        let configs = allowedConfigs.resolved(over: base?.allowedConfigs)
        if let configs {
            try Self.checkList(configs, field: "allowed_configs", what: "config slug")
            if let invalid = configs.first(where: { !ProxyConfigInput.isValidSlug($0) }) {
                throw ValidationError("field 'allowed_configs' lists slugs (^[a-z0-9][a-z0-9_-]{0,63}$); got '\(invalid.prefix(80))'")
            }
            // A well-formed slug no config has conflicts with what is stored (409, like the configs' own such rule).
            if let unknown = configs.first(where: { !knownSlugs.contains($0) }) {
                throw ValidationError(conflict: "field 'allowed_configs' names '\(unknown)', which no config has as its slug: create the config first")
            }
        }
        let models: [ModelPattern]?
        switch allowedModels {
        case .absent: models = base?.allowedModels
        case .null: models = nil
        case .value(let texts):
            try Self.checkList(texts, field: "allowed_models", what: "model name or 'prefix*' pattern")
            do {
                models = try texts.map(ModelPattern.init(parsing:))
            } catch {
                throw ValidationError("field 'allowed_models': \(error.description)")
            }
        }
        var values: [QuotaLimit: Int64?] = [:]
        for limit in QuotaLimit.allCases {
            let value = (limits[limit] ?? .absent).resolved(over: base?.limits[limit])
            if let value, !(0...Self.maximumLimit).contains(value) {
                throw ValidationError("field '\(limit.rawValue)' must be 0 or null (no limit) or a positive whole number up to \(Self.maximumLimit) (got \(value))")
            }
            values[limit] = value
        }
        func limit(_ limit: QuotaLimit) -> Int64? { values[limit] ?? nil }
        return ClientKeyDraft(
            name: trimmed, note: note, enabled: enabled.resolved(over: base?.enabled) ?? true, expiresAt: expiresAt,
            allowedConfigs: configs.map(Self.deduplicated), allowedModels: models,
            limits: ClientKeyLimits(
                rpm: limit(.rpm), tpm: limit(.tpm), maxConcurrent: limit(.concurrent), dailyRequests: limit(.dailyRequests),
                monthlyRequests: limit(.monthlyRequests), dailyTokens: limit(.dailyTokens), monthlyTokens: limit(.monthlyTokens)
            )
        )
    }

    private static func deduplicated(_ list: [String]) -> [String] {
        var seen = Set<String>()
        return list.filter { seen.insert($0).inserted }
    }

    private static func checkList(_ list: [String], field: String, what: String) throws(ValidationError) {
        guard !list.isEmpty else { throw ValidationError("field '\(field)' must list at least one \(what), or be null for all") }
        guard list.count <= maximumListCount else { throw ValidationError("field '\(field)' may list at most \(maximumListCount) entries") }
    }

    /// ISO 8601 with a time zone, with or without fractional seconds (`2026-12-31T23:59:59Z`).
    static func date(_ text: String) throws(ValidationError) -> Date {
        let whole = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = whole.date(from: text) ?? fractional.date(from: text) else {
            throw ValidationError("field 'expires_at' must be an ISO 8601 date and time with a time zone, e.g. 2026-12-31T23:59:59Z (got '\(text.prefix(60))')")
        }
        return date
    }
}

/// `POST /admin/client-keys/{id}/rotate`: how long the old secret stays accepted (0 or left out: not at all).
struct RotateInput: AdminInput {
    static let maximumGrace: Int64 = 604_800
    var grace_seconds: Int64?

    init(graceSeconds: Int64? = nil) {
        grace_seconds = graceSeconds
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: ClientKeyInput.Key.self)
        if let unknown = container.allKeys.first(where: { $0.stringValue != "grace_seconds" }) {
            throw APIError.badRequest("unknown field '\(unknown.stringValue.prefix(60))': a rotation takes only grace_seconds")
        }
        do {
            grace_seconds = try container.decodeIfPresent(Int64.self, forKey: ClientKeyInput.Key(stringValue: "grace_seconds"))
        } catch {  // a DecodingError, or Foundation's own error for a number that is not a whole one
            throw ValidationError("field 'grace_seconds' must be a whole number of seconds from 0 to \(Self.maximumGrace)")
        }
    }

    func validate() throws(ValidationError) {
        if let grace_seconds, !(0...Self.maximumGrace).contains(grace_seconds) {
            throw ValidationError("field 'grace_seconds' must be 0 to \(Self.maximumGrace) (7 days); got \(grace_seconds)")
        }
    }
}
