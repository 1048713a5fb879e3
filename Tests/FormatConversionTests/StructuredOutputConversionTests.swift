import FormatConversion
import RotatorCore
import Testing

/// Structured output asked in one dialect reaches the upstream in its own: OpenAI `response_format`, Responses
/// `text.format`, Anthropic `output_config.format`, Gemini `responseMimeType` with a schema. Structured-output
/// libraries (instructor, pydantic-ai, langchain) fail when it is dropped on the way.
@Suite struct StructuredOutputConversionTests {
    static let person = #"{"type":"object","properties":{"name":{"type":"string","minLength":1},"age":{"type":"integer","minimum":0},"#
        + #""address":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},"required":["name","age","address"]}"#

    /// The same schema asked by each client format.
    static let asked: [(OutputFormat, String)] = [
        (.openAI, #"{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"person","schema":\#(person),"strict":true}}}"#),
        (.openAIResponses, #"{"model":"m","input":"hi","text":{"format":{"type":"json_schema","name":"person","schema":\#(person),"strict":true}}}"#),
        (.gemini, #"{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"responseMimeType":"application/json","responseJsonSchema":\#(person)}}"#),
        (.anthropic, #"{"model":"m","max_tokens":64,"messages":[{"role":"user","content":"hi"}],"output_config":{"format":{"type":"json_schema","schema":\#(person)}}}"#),
    ]

    static func convert(_ body: String, from client: OutputFormat, to upstream: APIFormat) throws -> (sent: JSONValue, dropped: [String]) {
        let pair = try #require(FormatPair(client: client, upstream: upstream))
        let outcome = RequestConversion(pair: pair).convert(Array(body.utf8), call: Golden.call(for: client), created: 0)
        guard case .forward(let converted) = outcome else {
            Issue.record("rejected: \(outcome)")
            throw ConversionFailure("rejected")
        }
        return (try JSONParser.parse(converted.upstream.body), converted.dropped.items)
    }

    /// Every object in the schema is closed (`additionalProperties: false`), as Anthropic requires.
    static func everyObjectIsClosed(_ schema: JSONValue?) -> Bool {
        guard let object = schema?.object else { return true }
        if object["type"]?.string == "object", object["additionalProperties"] != .bool(false) { return false }
        return object.members.allSatisfy { member in
            switch member.value {
            case .object(let inner) where member.key == "properties": inner.members.allSatisfy { everyObjectIsClosed($0.value) }
            case .object: everyObjectIsClosed(member.value)
            case .array(let values): values.allSatisfy(everyObjectIsClosed)
            default: true
            }
        }
    }

    @Test(arguments: asked.filter { $0.0 != .anthropic }.map(\.0))
    func aSchemaReachesAnthropicAsOutputConfig(client: OutputFormat) throws {
        let body = try #require(Self.asked.first { $0.0 == client }?.1)
        let (sent, dropped) = try Self.convert(body, from: client, to: .anthropicNative)
        let format = try #require(sent["output_config"]?["format"], "no output_config.format in \(JSONWriter.string(sent))")
        #expect(format["type"]?.string == "json_schema")
        let schema = format["schema"]
        #expect(schema?["properties"]?["address"]?["properties"]?["city"]?["type"]?.string == "string")
        #expect(schema?["required"] == .array(["name", "age", "address"]))
        #expect(Self.everyObjectIsClosed(schema), "\(JSONWriter.string(schema ?? .null))")
        // Bounds Anthropic refuses are left out, and said so.
        #expect(schema?["properties"]?["age"]?["minimum"] == nil)
        #expect(dropped.contains("schema keyword 'minimum'") && dropped.contains("schema keyword 'minLength'"), "\(dropped)")
        #expect(!dropped.contains { $0.contains("response_format") || $0.contains("JSON mode") }, "\(dropped)")
    }

    @Test func anthropicsSchemaReachesOpenAIAndGemini() throws {
        let body = try #require(Self.asked.first { $0.0 == .anthropic }?.1)
        let openAI = try Self.convert(body, from: .anthropic, to: .openAICompatible).sent
        #expect(openAI["response_format"]?["type"]?.string == "json_schema")
        #expect(openAI["response_format"]?["json_schema"]?["schema"]?["properties"]?["address"] != nil)
        let gemini = try Self.convert(body, from: .anthropic, to: .geminiNative).sent
        #expect(gemini["generationConfig"]?["responseMimeType"]?.string == "application/json")
        #expect(gemini["generationConfig"]?["responseSchema"]?["type"]?.string == "OBJECT")
    }

    /// The beta's top-level `output_format` (pydantic-ai and older anthropic SDKs send it) is read like `output_config.format`.
    @Test func anthropicsBetaOutputFormatIsReadToo() throws {
        let body = #"{"model":"m","max_tokens":64,"messages":[{"role":"user","content":"hi"}],"output_format":{"type":"json_schema","schema":\#(Self.person)}}"#
        let (sent, dropped) = try Self.convert(body, from: .anthropic, to: .openAICompatible)
        #expect(sent["response_format"]?["json_schema"]?["schema"]?["required"] == .array(["name", "age", "address"]))
        #expect(!dropped.contains("output_format"), "\(dropped)")
    }

    @Test func responsesTextFormatReachesChatCompletionsWithItsNameAndStrictness() throws {
        let body = try #require(Self.asked.first { $0.0 == .openAIResponses }?.1)
        let sent = try Self.convert(body, from: .openAIResponses, to: .openAICompatible).sent
        let format = sent["response_format"]
        #expect(format?["type"]?.string == "json_schema")
        #expect(format?["json_schema"]?["name"]?.string == "person")
        #expect(format?["json_schema"]?["strict"]?.bool == true)
        #expect(format?["json_schema"]?["schema"]?["required"] == .array(["name", "age", "address"]))
    }

    /// pydantic writes a nested model as `$ref` into `$defs`; Gemini's schema subset has no references: inlined.
    @Test func referencesAreInlinedForGemini() throws {
        let schema = ##"{"type":"object","properties":{"home":{"$ref":"#/$defs/Home"},"past":{"type":"array","items":{"$ref":"#/$defs/Home"}}},"##
            + ##""required":["home"],"$defs":{"Home":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}"##
        let body = #"{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"p","schema":\#(schema)}}}"#
        let (sent, dropped) = try Self.convert(body, from: .openAI, to: .geminiNative)
        let responseSchema = sent["generationConfig"]?["responseSchema"]
        let home: JSONValue = .object(JSONObject([
            ("type", "OBJECT"), ("properties", .object(JSONObject([("city", .object(JSONObject([("type", "STRING")])))]))), ("required", .array(["city"])),
        ]))
        #expect(responseSchema?["properties"]?["home"] == home)
        #expect(responseSchema?["properties"]?["past"]?["items"] == home)
        #expect(responseSchema?["$defs"] == nil)
        #expect(dropped.isEmpty, "\(dropped)")
    }

    /// google-genai writes `responseSchema` in OpenAPI's dialect: upper-case types, `nullable`, `property_ordering`.
    @Test func geminisOpenAPISchemaBecomesJSONSchemaForAnthropic() throws {
        let body = #"{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"responseMimeType":"application/json","responseSchema":"#
            + #"{"type":"OBJECT","properties":{"city":{"type":"STRING"},"zip":{"type":"STRING","nullable":true}},"#
            + #""required":["city"],"property_ordering":["city","zip"]}}}"#
        let (sent, dropped) = try Self.convert(body, from: .gemini, to: .anthropicNative)
        let schema = try #require(sent["output_config"]?["format"]?["schema"])
        #expect(schema["type"]?.string == "object")
        #expect(schema["property_ordering"] == nil)
        #expect(schema["properties"]?["zip"] == .object(JSONObject([("anyOf", .array([
            .object(JSONObject([("type", "string")])), .object(JSONObject([("type", "null")])),
        ]))])))
        #expect(Self.everyObjectIsClosed(schema))
        #expect(dropped.isEmpty, "\(dropped)")
    }

    /// OpenAI refuses JSON mode when no message says "json" (Gemini has no such rule): a system line says it.
    @Test func jsonModeIntoOpenAISaysJSONWhenTheConversationDoesNot() throws {
        let gemini = #"{"contents":[{"parts":[{"text":"Describe Paris."}]}],"generationConfig":{"responseMimeType":"application/json"}}"#
        let sent = try Self.convert(gemini, from: .gemini, to: .openAICompatible).sent
        #expect(sent["response_format"]?["type"]?.string == "json_object")
        #expect(sent["messages"]?.array?.first == .object(JSONObject([("role", "system"), ("content", "Answer in JSON.")])))
        let saysIt = #"{"contents":[{"parts":[{"text":"Describe Paris as JSON."}]}],"generationConfig":{"responseMimeType":"application/json"}}"#
        #expect(try Self.convert(saysIt, from: .gemini, to: .openAICompatible).sent["messages"]?.array?.count == 1)
    }

    /// JSON mode without a schema has no Anthropic form (its objects must be closed, which would force `{}`):
    /// left out and said so, never sent as a schema that forbids every member.
    @Test func jsonModeWithoutASchemaIsReportedForAnthropic() throws {
        let body = #"{"model":"m","messages":[{"role":"user","content":"answer in json"}],"response_format":{"type":"json_object"}}"#
        let (sent, dropped) = try Self.convert(body, from: .openAI, to: .anthropicNative)
        #expect(sent["output_config"] == nil)
        #expect(dropped.contains { $0.contains("JSON mode") }, "\(dropped)")
        let gemini = try Self.convert(body, from: .openAI, to: .geminiNative).sent
        #expect(gemini["generationConfig"]?["responseMimeType"]?.string == "application/json")
    }
}
