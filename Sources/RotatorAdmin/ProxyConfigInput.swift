import Foundation
import RotatorCore

/// A config as sent by an admin. Every field is optional here: POST fills defaults, PUT keeps the current
/// value of fields it leaves out. Validation turns it into a `ProxyConfigDraft` or a message saying what to fix.
struct ProxyConfigInput: Decodable, Sendable {
    var name: String?
    var slug: String?
    var config_type: String?
    var api_key_location: String?
    var api_key_name: String?
    var is_active: Bool?
    var method: String?
    var target_url: String?
    var target_base_url: String?
    var api_format: String?
    var output_format: String?
    var key_rpm: Int?
    var answer_overrides: [AnswerOverrideInput]?
    var retry_after_read_timeout: Bool?
    var forward_billing_headers: Bool?

    static let allowedMethods: Set<String> = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"]

    /// Validates against `base` (the current config for PUT, nil for POST).
    func draft(over base: ProxyConfig?) throws(ValidationError) -> ProxyConfigDraft {
        let name = (self.name ?? base?.name)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        guard !name.isEmpty else { throw ValidationError("field 'name' is required and must not be blank") }
        guard name.count <= 200 else { throw ValidationError("field 'name' must be at most 200 characters") }

        guard let slug = self.slug ?? base?.slug else { throw ValidationError("field 'slug' is required") }
        guard Self.isValidSlug(slug) else {
            throw ValidationError("field 'slug' must match ^[a-z0-9][a-z0-9_-]{0,63}$ (lower-case letters, digits, '-' and '_'; got '\(slug.prefix(80))')")
        }

        let configType = try Self.parse(config_type, as: ConfigType.self, field: "config_type") ?? base?.configType ?? .llm
        let apiFormat = try Self.parse(api_format, as: APIFormat.self, field: "api_format") ?? base?.apiFormat ?? .openAICompatible
        let location = try Self.parse(api_key_location, as: APIKeyLocation.self, field: "api_key_location") ?? base?.apiKeyLocation ?? .header

        let keyName = (api_key_name ?? base?.apiKeyName ?? "Authorization").trimmingCharacters(in: .whitespaces)
        guard !keyName.isEmpty, keyName.count <= 100 else { throw ValidationError("field 'api_key_name' must be 1 to 100 characters") }
        if location == .header, !keyName.unicodeScalars.allSatisfy(Self.isHeaderTokenCharacter) {
            throw ValidationError("field 'api_key_name' must be a valid HTTP header name when api_key_location is 'header'")
        }

        let method: String?
        if let given = self.method ?? base?.method, !given.isEmpty {
            let upper = given.uppercased()
            guard Self.allowedMethods.contains(upper) else {
                throw ValidationError("field 'method' must be one of \(Self.allowedMethods.sorted().joined(separator: ", "))")
            }
            method = upper
        } else {
            method = nil
        }

        let targetURL = try Self.url(target_url, base: base?.targetURL, field: "target_url")
        let targetBaseURL = try Self.url(target_base_url, base: base?.targetBaseURL, field: "target_base_url")
        switch configType {
        case .llm where targetBaseURL == nil && targetURL == nil:
            throw ValidationError("field 'target_base_url' is required for llm configs (e.g. https://openrouter.ai/api/v1)")
        case .generic where targetURL == nil && targetBaseURL == nil:
            throw ValidationError("field 'target_url' is required for generic configs (e.g. https://api.example.com)")
        default:
            break
        }

        let rpm = key_rpm ?? base?.keyRPM ?? 0
        guard (0...1_000_000).contains(rpm) else { throw ValidationError("field 'key_rpm' must be between 0 (unlimited) and 1000000") }

        let outputFormat = (output_format ?? base?.outputFormat).flatMap { $0.isEmpty ? nil : $0 }
        let overrides = try answer_overrides.map(AnswerOverrideInput.validated) ?? base?.answerOverrides ?? []
        return ProxyConfigDraft(
            name: name, slug: slug, configType: configType, apiKeyLocation: location, apiKeyName: keyName,
            isActive: is_active ?? base?.isActive ?? true, method: method, targetURL: targetURL, targetBaseURL: targetBaseURL,
            apiFormat: apiFormat, outputFormat: outputFormat, keyRPM: rpm, answerOverrides: overrides,
            retryAfterReadTimeout: retry_after_read_timeout ?? base?.retryAfterReadTimeout ?? false,
            forwardBillingHeaders: forward_billing_headers ?? base?.forwardBillingHeaders ?? false
        )
    }

    private static func parse<T: RawRepresentable & CaseIterable>(_ value: String?, as type: T.Type, field: String) throws(ValidationError) -> T?
    where T.RawValue == String {
        guard let value else { return nil }
        guard let parsed = T(rawValue: value.lowercased()) else {
            throw ValidationError("field '\(field)' must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(value.prefix(80))')")
        }
        return parsed
    }

    /// An http(s) URL with a host, or nil when neither given nor present before. An empty string clears it.
    private static func url(_ value: String?, base: String?, field: String) throws(ValidationError) -> String? {
        guard let value = value ?? base else { return nil }
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return nil }
        guard trimmed.count <= 2048, UpstreamTarget(trimmed) != nil else {
            throw ValidationError("field '\(field)' must be an http:// or https:// URL with a host and no credentials")
        }
        return trimmed
    }

    /// `^[a-z0-9][a-z0-9_-]{0,63}$`
    static func isValidSlug(_ slug: String) -> Bool {
        let bytes = Array(slug.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        return isLowerAlphanumeric(bytes[0])
            && bytes.dropFirst().allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
    }

    private static func isHeaderTokenCharacter(_ scalar: Unicode.Scalar) -> Bool {
        guard scalar.isASCII else { return false }
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9": return true
        default: return "!#$%&'*+-.^_`|~".unicodeScalars.contains(scalar)
        }
    }
}

/// Bad input that parsed as JSON: answered 422 with the message.
struct ValidationError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
