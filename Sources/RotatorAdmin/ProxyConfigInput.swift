import Foundation
import RotatorCore

/// A config as sent by an admin. Every field is optional here: POST fills defaults, PUT keeps the current
/// value of fields it leaves out. Validation turns it into a `ProxyConfigDraft` or a message saying what to fix.
///
/// Each rule is one the OpenAPI document states in its schemas (`ProxyConfigCreate`, `ProxyConfigInput`), to
/// the character: lengths count Unicode scalars (JSON Schema's code points), blank means only ASCII spaces,
/// tabs and line breaks, URLs follow one pattern. The one rule a schema cannot state, that a PUT must leave
/// the config an upstream URL, is a conflict with the stored config (`ValidationError.conflict`).
struct ProxyConfigInput: AdminInput {
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
    /// Client model -> upstream model, for configs that convert formats. `{}` clears it.
    var model_map: [String: String]?
    /// Upstream model for any other client model; an empty string clears it.
    var default_model: String?
    /// Output tokens a client key's request reserves when it names no maximum; 0 clears it (the node's default).
    var default_max_tokens: Int?

    static let allowedMethods: Set<String> = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"]

    /// Validates against `base` (the current config for PUT, nil for POST).
    func draft(over base: ProxyConfig?) throws(ValidationError) -> ProxyConfigDraft {
        let givenName = self.name ?? base?.name ?? ""
        guard givenName.unicodeScalars.contains(where: { !Self.asciiBlank.contains($0) }) else {
            throw ValidationError("field 'name' is required and must not be blank")
        }
        guard givenName.unicodeScalars.count <= 200 else { throw ValidationError("field 'name' must be at most 200 characters") }
        let name = Self.trimmingASCIIBlanks(givenName)

        guard let slug = self.slug ?? base?.slug else { throw ValidationError("field 'slug' is required") }
        guard Self.isValidSlug(slug) else {
            throw ValidationError("field 'slug' must match ^[a-z0-9][a-z0-9_-]{0,63}$ (lower-case letters, digits, '-' and '_'; got '\(slug.prefix(80))')")
        }

        let configType = try Self.parse(config_type, as: ConfigType.self, field: "config_type") ?? base?.configType ?? .llm
        let apiFormat = try Self.parse(api_format, as: APIFormat.self, field: "api_format") ?? base?.apiFormat ?? .openAICompatible
        let location = try Self.parse(api_key_location, as: APIKeyLocation.self, field: "api_key_location") ?? base?.apiKeyLocation ?? .header

        // A header name, or a query parameter name from the same characters.
        let keyName = api_key_name ?? base?.apiKeyName ?? "Authorization"
        guard (1...100).contains(keyName.unicodeScalars.count) else { throw ValidationError("field 'api_key_name' must be 1 to 100 characters") }
        guard keyName.unicodeScalars.allSatisfy(Self.isHeaderTokenCharacter) else {
            throw ValidationError("field 'api_key_name' must be a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~)")
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
        if targetBaseURL == nil && targetURL == nil {
            let field = configType == .generic ? "target_url" : "target_base_url"
            let example = configType == .generic ? "https://api.example.com" : "https://openrouter.ai/api/v1"
            let message = "field '\(field)' is required for \(configType.rawValue) configs (e.g. \(example))"
            // On PUT the stored config had a URL: clearing the last one conflicts with it.
            throw base == nil ? ValidationError(message) : ValidationError(conflict: "this change would leave the config without an upstream: " + message)
        }

        let rpm = key_rpm ?? base?.keyRPM ?? 0
        guard (0...1_000_000).contains(rpm) else { throw ValidationError("field 'key_rpm' must be between 0 (unlimited) and 1000000") }

        let outputFormat = try Self.outputFormat(output_format, base: base?.outputFormat)
        let modelMap = model_map ?? base?.modelMap ?? [:]
        guard modelMap.count <= 200 else { throw ValidationError("field 'model_map' may name at most 200 models") }
        for (client, upstream) in modelMap where !Self.isModelName(client) || !Self.isModelName(upstream) {
            throw ValidationError("field 'model_map' maps model names to model names: each 1 to 200 characters (got '\(client.prefix(80))': '\(upstream.prefix(80))')")
        }
        let defaultModel = (default_model ?? base?.defaultModel).flatMap { $0.isEmpty ? nil : $0 }
        if let defaultModel, !Self.isModelName(defaultModel) {
            throw ValidationError("field 'default_model' must be a model name of 1 to 200 characters")
        }
        let defaultMaxTokens = default_max_tokens.map { $0 == 0 ? nil : $0 } ?? base?.defaultMaxTokens
        if let defaultMaxTokens, !(1...10_000_000).contains(defaultMaxTokens) {
            throw ValidationError("field 'default_max_tokens' must be between 0 (the node's CLIENT_KEY_DEFAULT_MAX_TOKENS) and 10000000")
        }
        let overrides = try answer_overrides.map(AnswerOverrideInput.validated) ?? base?.answerOverrides ?? []
        return ProxyConfigDraft(
            name: name, slug: slug, configType: configType, apiKeyLocation: location, apiKeyName: keyName,
            isActive: is_active ?? base?.isActive ?? true, method: method, targetURL: targetURL, targetBaseURL: targetBaseURL,
            apiFormat: apiFormat, outputFormat: outputFormat, keyRPM: rpm, answerOverrides: overrides,
            retryAfterReadTimeout: retry_after_read_timeout ?? base?.retryAfterReadTimeout ?? false,
            forwardBillingHeaders: forward_billing_headers ?? base?.forwardBillingHeaders ?? false, modelMap: modelMap, defaultModel: defaultModel,
            defaultMaxTokens: defaultMaxTokens
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

    /// One of `OutputFormat`'s names (case-insensitive, stored lower-case), or nil for empty. A stored value from
    /// before validation existed is kept as long as the admin does not send a new one.
    private static func outputFormat(_ value: String?, base: String?) throws(ValidationError) -> String? {
        guard let value else { return base.flatMap { $0.isEmpty ? nil : $0 } }
        if value.isEmpty { return nil }
        guard let format = OutputFormat(rawValue: value.lowercased()) else {
            throw ValidationError("field 'output_format' must be empty or one of \(OutputFormat.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(value.prefix(80))')")
        }
        return format.rawValue
    }

    /// 1 to 200 characters (code points, as the OpenAPI document counts them); the name is passed on as it is.
    private static func isModelName(_ name: String) -> Bool {
        (1...200).contains(name.unicodeScalars.count)
    }

    /// An http(s) URL with a host, or nil when neither given nor present before. An empty string clears it.
    private static func url(_ value: String?, base: String?, field: String) throws(ValidationError) -> String? {
        guard let value = value ?? base else { return nil }
        if value.isEmpty { return nil }
        guard value.unicodeScalars.count <= 2048, (try? urlPattern.wholeMatch(in: value)) != nil, UpstreamTarget(value) != nil else {
            throw ValidationError("field '\(field)' must be an http:// or https:// URL with a host and no credentials")
        }
        return value
    }

    /// The document's `UpstreamURL` pattern: scheme, host, optional port, then path and query characters
    /// (RFC 3986's unreserved and sub-delims, ':', '@', '/', '?', percent escapes); no credentials, no fragment.
    nonisolated(unsafe) static let urlPattern = try! Regex(
        #"https?://[A-Za-z0-9.\-]+(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?([/?]([A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*)?"#
    )

    static let asciiBlank: Set<Unicode.Scalar> = [" ", "\t", "\n", "\r"]

    static func trimmingASCIIBlanks(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !asciiBlank.contains($0) }),
            let last = scalars.lastIndex(where: { !asciiBlank.contains($0) })
        else { return "" }
        return String(scalars[first...last])
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

/// Bad input that parsed as JSON: answered 422 with the message, or 409 when the input is fine but conflicts
/// with the stored config it would change.
struct ValidationError: Error {
    var message: String
    var isConflict = false
    init(_ message: String) { self.message = message }
    init(conflict message: String) {
        self.message = message
        self.isConflict = true
    }
}
