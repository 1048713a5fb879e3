import RotatorCore
import RotatorSQL
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension APIKeyRecord {
    /// Every column but the ciphertext and fingerprint: records never carry the secret.
    static let selectColumns = """
        id, proxy_config_id, key_mask, is_active, is_invalid, request_count, error_count, input_tokens, \
        output_tokens, last_used_at, last_error, created_at, updated_at
        """

    init(row: SQLRow) throws {
        self.init(
            id: try row.int64("id"),
            proxyConfigID: try row.int64("proxy_config_id"),
            maskedValue: try row.string("key_mask"),
            isActive: try row.bool("is_active"),
            isInvalid: try row.bool("is_invalid"),
            requestCount: try row.int64("request_count"),
            errorCount: try row.int64("error_count"),
            inputTokens: try row.int64("input_tokens"),
            outputTokens: try row.int64("output_tokens"),
            lastUsedAt: try row.optionalInt64("last_used_at").map(Date.init(millisecondsSince1970:)),
            lastError: try row.optionalString("last_error"),
            createdAt: Date(millisecondsSince1970: try row.int64("created_at")),
            updatedAt: Date(millisecondsSince1970: try row.int64("updated_at"))
        )
    }
}
