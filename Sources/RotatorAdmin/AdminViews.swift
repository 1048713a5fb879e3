import Foundation
import KeyCoordination
import RotatorCore
import TrafficStats

/// Timestamps in admin JSON: ISO 8601 UTC with milliseconds.
enum Timestamp {
    static func string(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    static func string(_ date: Date?) -> String? {
        date.map(string)
    }
}

/// A key as admins see it: masked value, stored flags merged with the coordinator's live state.
struct KeyView: Encodable, Sendable {
    var id: Int64
    var proxy_config_id: Int64
    var key_value: String
    var is_active: Bool
    var status: KeyStatus
    @ExplicitNull var cooldown_until: String?
    /// Models the key rests for (the provider's limit is per model), and until when; it serves every other model.
    var model_cooldowns: [String: String]
    var request_count: Int64
    var error_count: Int64
    var input_tokens: Int64
    var output_tokens: Int64
    @ExplicitNull var last_used_at: String?
    @ExplicitNull var last_error: String?
    var created_at: String
    var updated_at: String
    /// Why the key is out of rotation; nil while it serves.
    @ExplicitNull var status_detail: KeyStatusDetail?

    /// - Parameters:
    ///   - pendingInvalidReason: set while the key is out of rotation as invalid but the mark has not reached
    ///     the store yet: shown as `invalid`, what the rotation does.
    ///   - isUndecryptable: the node could not decrypt the key, so it is out of rotation.
    ///   - events: what happened to the key lately (cooldowns, quarantines), to say why it is out of rotation.
    init(
        _ record: APIKeyRecord, runtime: KeyRuntimeState?, pendingInvalidReason: String? = nil, isUndecryptable: Bool = false,
        events: [KeyEvent] = [], now: Date = Date()
    ) {
        id = record.id
        proxy_config_id = record.proxyConfigID
        key_value = record.maskedValue
        is_active = record.isActive
        let coolingUntil = record.isUsable ? runtime?.coolingUntil : nil
        if !record.isActive {
            status = .disabled
        } else if record.isInvalid || pendingInvalidReason != nil {
            status = .invalid
        } else if isUndecryptable {
            status = .undecryptable
        } else if record.isUsable, runtime?.quotaExhaustedUntil != nil {
            status = .exhausted
        } else if coolingUntil != nil {
            status = .cooling
        } else {
            status = .active
        }
        cooldown_until = coolingUntil.map { Timestamp.string(Date(timeIntervalSince1970: $0)) }
        model_cooldowns = (record.isUsable ? runtime?.modelCoolingUntil ?? [:] : [:])
            .mapValues { Timestamp.string(Date(timeIntervalSince1970: $0)) }
        request_count = record.requestCount
        error_count = record.errorCount
        input_tokens = record.inputTokens
        output_tokens = record.outputTokens
        last_used_at = Timestamp.string(record.lastUsedAt)
        last_error = record.isUsable ? (pendingInvalidReason ?? record.lastError) : record.lastError
        if record.isUsable && isUndecryptable {
            last_error = "cannot be decrypted: altered, moved from another row, or encrypted with another ENCRYPTION_KEY"
        }
        created_at = Timestamp.string(record.createdAt)
        updated_at = Timestamp.string(record.updatedAt)
        status_detail = KeyStatusDetail.explain(record, runtime: record.isUsable ? runtime : nil, events: events, now: now)
    }
}

struct ProxyConfigView: Encodable, Sendable {
    var id: Int64
    var name: String
    var slug: String
    var config_type: String
    var api_key_location: String
    var api_key_name: String
    var is_active: Bool
    @ExplicitNull var method: String?
    @ExplicitNull var target_url: String?
    @ExplicitNull var target_base_url: String?
    var api_format: String
    @ExplicitNull var output_format: String?
    var key_rpm: Int
    var answer_overrides: [AnswerOverride]
    var retry_after_read_timeout: Bool
    var forward_billing_headers: Bool
    @ExplicitNull var pool_cooling_until: String?
    @ExplicitNull var pool_cooling_reason: String?
    var model_map: [String: String]
    @ExplicitNull var default_model: String?
    @ExplicitNull var default_max_tokens: Int?
    var created_at: String
    var updated_at: String
    var api_keys: [KeyView]

    init(_ config: ProxyConfig, keys: [KeyView], poolCooling: PoolCooling? = nil) {
        id = config.id
        name = config.name
        slug = config.slug
        config_type = config.configType.rawValue
        api_key_location = config.apiKeyLocation.rawValue
        api_key_name = config.apiKeyName
        is_active = config.isActive
        method = config.method
        target_url = config.targetURL
        target_base_url = config.targetBaseURL
        api_format = config.apiFormat.rawValue
        output_format = config.outputFormat
        key_rpm = config.keyRPM
        answer_overrides = config.answerOverrides
        retry_after_read_timeout = config.retryAfterReadTimeout
        forward_billing_headers = config.forwardBillingHeaders
        pool_cooling_until = poolCooling.map { Timestamp.string(Date(timeIntervalSince1970: $0.until)) }
        pool_cooling_reason = poolCooling?.reason
        model_map = config.modelMap
        default_model = config.defaultModel
        default_max_tokens = config.defaultMaxTokens
        created_at = Timestamp.string(config.createdAt)
        updated_at = Timestamp.string(config.updatedAt)
        api_keys = keys
    }
}
