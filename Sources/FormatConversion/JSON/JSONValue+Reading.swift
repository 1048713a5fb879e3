/// Typed reads of request fields that fail with a message naming the field.
extension JSONObject {
    func string(_ key: String, required: Bool = false) throws(ConversionFailure) -> String? {
        try field(key, \.string, mustBe: "a string", required: required)
    }

    func number(_ key: String) throws(ConversionFailure) -> Double? {
        try field(key, \.double, mustBe: "a number")
    }

    func integer(_ key: String) throws(ConversionFailure) -> Int? {
        try field(key, \.int, mustBe: "an integer")
    }

    func flag(_ key: String) throws(ConversionFailure) -> Bool? {
        try field(key, \.bool, mustBe: "a boolean")
    }

    func array(_ key: String, required: Bool = false) throws(ConversionFailure) -> [JSONValue]? {
        try field(key, \.array, mustBe: "an array", required: required)
    }

    func objectValue(_ key: String) throws(ConversionFailure) -> JSONObject? {
        try field(key, \.object, mustBe: "an object")
    }

    /// `key`'s value as `read` sees it; nil when absent or null (a failure when `required`), a failure naming the
    /// field and `kind` when `read` does not take it.
    private func field<Value>(
        _ key: String, _ read: (JSONValue) -> Value?, mustBe kind: String, required: Bool = false
    ) throws(ConversionFailure) -> Value? {
        guard let value = self[key], !value.isNull else {
            if required { throw .field(key, "is required") }
            return nil
        }
        guard let typed = read(value) else { throw .field(key, "must be \(kind)") }
        return typed
    }

    /// The first of several spellings present (Gemini's REST API takes both camelCase and snake_case).
    subscript(either names: String...) -> JSONValue? {
        for name in names { if let value = self[name] { return value } }
        return nil
    }

    /// Keys not in `known`, for the dropped list.
    func unknownKeys(_ known: Set<String>) -> [String] {
        keys.filter { !known.contains($0) }
    }
}

extension JSONValue {
    /// The request body as an object, or the failure a client gets for anything else.
    static func requestObject(_ bytes: some Collection<UInt8>) throws(ConversionFailure) -> JSONObject {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw .invalidJSON(error)
        }
        guard let object = value.object else { throw ConversionFailure("The request body must be a JSON object.") }
        return object
    }
}

/// Tool-call arguments: JSON text in OpenAI's formats, an object in Anthropic's and Gemini's.
enum ToolArguments {
    /// The arguments as an object; text that is not a JSON object becomes `{}` and is reported.
    static func object(_ text: String, dropped: inout DroppedFeatures) -> JSONValue {
        if text.isEmpty { return .object(JSONObject()) }
        if let value = try? JSONParser.parse(text), case .object = value { return value }
        dropped.add("tool call arguments that are not a JSON object")
        return .object(JSONObject())
    }

    static func text(_ value: JSONValue?) -> String {
        guard let value, !value.isNull else { return "{}" }
        return JSONWriter.string(value)
    }
}

extension JSONValue {
    /// The first of several spellings present, on an object value.
    subscript(either names: String...) -> JSONValue? {
        guard case .object(let object) = self else { return nil }
        for name in names { if let value = object[name] { return value } }
        return nil
    }
}
