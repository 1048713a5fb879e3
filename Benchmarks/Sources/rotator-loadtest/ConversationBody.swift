import Foundation

/// Scenario 9's request: one conversation of about 1 KB (a system prompt and three messages), as an Anthropic
/// Messages body and as an OpenAI Chat Completions body, the same texts in each.
enum ConversationBody {
    static let system = "You are a careful assistant for a logistics company. Answer in plain English, in at most three sentences, "
        + "and name the warehouse, the carrier and the expected delivery date whenever the user asks about a shipment. If you do "
        + "not know, say so and suggest whom to ask."
    static let turns: [(role: String, text: String)] = [
        ("user", "Where is order 48213? It left the Rotterdam warehouse on Monday with DHL and the tracking page has not changed "
            + "since Tuesday morning, which is unusual for that route."),
        ("assistant", "Order 48213 left Rotterdam on Monday with DHL. The tracking page often lags a day on that route; the expected "
            + "delivery date is Thursday. If it has not moved by Thursday noon, ask the DHL desk at the Rotterdam warehouse."),
        ("user", "Thanks. Can you also check order 48214, which was split into two parcels, and tell me whether both parcels travel "
            + "with the same carrier and arrive on the same day? The customer needs them together for an installation on Friday."),
    ]

    static func anthropic(stream: Bool) -> String {
        let messages = turns.map { #"{"role":"\#($0.role)","content":\#(quote($0.text))}"# }.joined(separator: ",")
        return #"{"model":"claude-sonnet-4-5","max_tokens":256,"stream":\#(stream),"system":\#(quote(system)),"messages":[\#(messages)]}"#
    }

    static func openAI(stream: Bool) -> String {
        let messages = ([("system", system)] + turns).map { #"{"role":"\#($0.0)","content":\#(quote($0.1))}"# }.joined(separator: ",")
        return #"{"model":"gpt-4o","max_tokens":256,"stream":\#(stream),"messages":[\#(messages)]}"#
    }

    /// A JSON string literal of plain text (these texts hold no control characters).
    private static func quote(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
