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
    var cooldown_until: String?
    /// Models the key rests for (the provider's limit is per model), and until when; it serves every other model.
    var model_cooldowns: [String: String]
    var request_count: Int64
    var error_count: Int64
    var input_tokens: Int64
    var output_tokens: Int64
    var last_used_at: String?
    var last_error: String?
    var created_at: String
    var updated_at: String
    /// Why the key is out of rotation; nil while it serves.
    var status_detail: KeyStatusDetail?

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

    // Explicit so that nil optionals are written as `null`, not left out: clients read a fixed shape.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(proxy_config_id, forKey: .proxy_config_id)
        try container.encode(key_value, forKey: .key_value)
        try container.encode(is_active, forKey: .is_active)
        try container.encode(status, forKey: .status)
        try container.encode(cooldown_until, forKey: .cooldown_until)
        try container.encode(model_cooldowns, forKey: .model_cooldowns)
        try container.encode(request_count, forKey: .request_count)
        try container.encode(error_count, forKey: .error_count)
        try container.encode(input_tokens, forKey: .input_tokens)
        try container.encode(output_tokens, forKey: .output_tokens)
        try container.encode(last_used_at, forKey: .last_used_at)
        try container.encode(last_error, forKey: .last_error)
        try container.encode(created_at, forKey: .created_at)
        try container.encode(updated_at, forKey: .updated_at)
        try container.encode(status_detail, forKey: .status_detail)
    }

    enum CodingKeys: String, CodingKey {
        case id, proxy_config_id, key_value, is_active, status, cooldown_until, model_cooldowns, request_count, error_count, input_tokens
        case output_tokens, last_used_at, last_error, created_at, updated_at, status_detail
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
    var method: String?
    var target_url: String?
    var target_base_url: String?
    var api_format: String
    var output_format: String?
    var key_rpm: Int
    var answer_overrides: [AnswerOverride]
    var retry_after_read_timeout: Bool
    var forward_billing_headers: Bool
    var pool_cooling_until: String?
    var pool_cooling_reason: String?
    var model_map: [String: String]
    var default_model: String?
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
        created_at = Timestamp.string(config.createdAt)
        updated_at = Timestamp.string(config.updatedAt)
        api_keys = keys
    }

    // Explicit so that nil optionals are written as `null`, not left out: clients read a fixed shape.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(slug, forKey: .slug)
        try container.encode(config_type, forKey: .config_type)
        try container.encode(api_key_location, forKey: .api_key_location)
        try container.encode(api_key_name, forKey: .api_key_name)
        try container.encode(is_active, forKey: .is_active)
        try container.encode(method, forKey: .method)
        try container.encode(target_url, forKey: .target_url)
        try container.encode(target_base_url, forKey: .target_base_url)
        try container.encode(api_format, forKey: .api_format)
        try container.encode(output_format, forKey: .output_format)
        try container.encode(key_rpm, forKey: .key_rpm)
        try container.encode(answer_overrides, forKey: .answer_overrides)
        try container.encode(retry_after_read_timeout, forKey: .retry_after_read_timeout)
        try container.encode(forward_billing_headers, forKey: .forward_billing_headers)
        try container.encode(pool_cooling_until, forKey: .pool_cooling_until)
        try container.encode(pool_cooling_reason, forKey: .pool_cooling_reason)
        try container.encode(model_map, forKey: .model_map)
        try container.encode(default_model, forKey: .default_model)
        try container.encode(created_at, forKey: .created_at)
        try container.encode(updated_at, forKey: .updated_at)
        try container.encode(api_keys, forKey: .api_keys)
    }

    enum CodingKeys: String, CodingKey {
        case id, name, slug, config_type, api_key_location, api_key_name, is_active, method, target_url, target_base_url
        case api_format, output_format, key_rpm, answer_overrides, retry_after_read_timeout, forward_billing_headers
        case pool_cooling_until, pool_cooling_reason, model_map, default_model, created_at, updated_at, api_keys
    }
}
