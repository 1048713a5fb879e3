import RotatorCore
import RotatorSQL
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension ProxyConfig {
    /// The columns `init(row:)` reads, for `SELECT \(ProxyConfig.selectColumns) FROM proxy_configs`.
    static let selectColumns = """
        id, name, slug, config_type, api_key_location, api_key_name, is_active, method, target_url, \
        target_base_url, api_format, output_format, key_rpm, created_at, updated_at, version, answer_overrides, \
        retry_after_read_timeout, forward_billing_headers, model_map, default_model, default_max_tokens
        """

    init(row: SQLRow) throws {
        let id = try row.int64("id")
        func parsed<Value: RawRepresentable<String>>(_ column: String, as type: Value.Type) throws -> Value {
            guard let value = Value(rawValue: try row.string(column)) else {
                throw StoreError.corrupt("config \(id) has an unknown \(column)")
            }
            return value
        }
        self.init(
            id: id,
            name: try row.string("name"),
            slug: try row.string("slug"),
            configType: try parsed("config_type", as: ConfigType.self),
            apiKeyLocation: try parsed("api_key_location", as: APIKeyLocation.self),
            apiKeyName: try row.string("api_key_name"),
            isActive: try row.bool("is_active"),
            method: try row.optionalString("method"),
            targetURL: try row.optionalString("target_url"),
            targetBaseURL: try row.optionalString("target_base_url"),
            apiFormat: try parsed("api_format", as: APIFormat.self),
            outputFormat: try row.optionalString("output_format"),
            keyRPM: try row.int("key_rpm"),
            createdAt: Date(millisecondsSince1970: try row.int64("created_at")),
            updatedAt: Date(millisecondsSince1970: try row.int64("updated_at")),
            version: try row.int64("version"),
            answerOverrides: try Self.answerOverrides(row.optionalString("answer_overrides"), configID: id),
            retryAfterReadTimeout: try row.bool("retry_after_read_timeout"),
            forwardBillingHeaders: try row.bool("forward_billing_headers"),
            modelMap: try ModelMapColumn.decode(row.optionalString("model_map"), configID: id),
            defaultModel: try row.optionalString("default_model"),
            defaultMaxTokens: try row.optionalInt("default_max_tokens")
        )
    }

    private static func answerOverrides(_ text: String?, configID: Int64) throws -> [AnswerOverride] {
        guard let text, !text.isEmpty else { return [] }
        do {
            return try JSONDecoder().decode([AnswerOverride].self, from: Data(text.utf8))
        } catch {
            throw StoreError.corrupt("config \(configID) has unreadable answer_overrides")
        }
    }
}

extension ProxyConfigDraft {
    /// Bound in this order by every statement that writes a draft's columns.
    var bindings: [SQLValue] {
        [
            .text(name), .text(slug), .text(configType.rawValue), .text(apiKeyLocation.rawValue), .text(apiKeyName),
            .bool(isActive), .optional(method), .optional(targetURL), .optional(targetBaseURL),
            .text(apiFormat.rawValue), .optional(outputFormat), .int(keyRPM), .optional(answerOverridesJSON),
            .bool(retryAfterReadTimeout), .bool(forwardBillingHeaders), .optional(ModelMapColumn.encode(modelMap)), .optional(defaultModel),
            .optional(defaultMaxTokens.map(Int64.init)),
        ]
    }

    /// NULL when there are none.
    private var answerOverridesJSON: String? {
        guard !answerOverrides.isEmpty else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding plain strings, integers and enums cannot fail.
        return (try? encoder.encode(answerOverrides)).map { String(decoding: $0, as: UTF8.self) }
    }
}
