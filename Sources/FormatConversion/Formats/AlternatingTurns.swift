/// Turns for the formats whose roles must alternate (Anthropic, Gemini): consecutive items of one role join
/// one turn, so a tool result and the user's next words travel together.
struct AlternatingTurns {
    private(set) var turns: [(role: String, items: [JSONValue])] = []

    mutating func append(role: String, _ items: [JSONValue]) {
        guard !items.isEmpty else { return }
        if let last = turns.indices.last, turns[last].role == role {
            turns[last].items += items
        } else {
            turns.append((role, items))
        }
    }

    /// `[{"role": ..., itemsKey: [...]}]`.
    func json(itemsKey: String) -> JSONValue {
        .array(turns.map { .object(JSONObject([("role", .string($0.role)), (itemsKey, .array($0.items))])) })
    }
}
