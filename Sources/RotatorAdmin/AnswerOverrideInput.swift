import RotatorCore

/// One `answer_overrides` entry as an admin sends it; validated into an `AnswerOverride`.
struct AnswerOverrideInput: Decodable, Sendable {
    var status: Int?
    var body_contains: String?
    var blame: String?

    static func validated(_ inputs: [AnswerOverrideInput]) throws(ValidationError) -> [AnswerOverride] {
        guard inputs.count <= AnswerOverride.maximumCount else {
            throw ValidationError("field 'answer_overrides' holds at most \(AnswerOverride.maximumCount) entries")
        }
        var overrides: [AnswerOverride] = []
        for (index, input) in inputs.enumerated() {
            overrides.append(try input.validated(at: index))
        }
        return overrides
    }

    private func validated(at index: Int) throws(ValidationError) -> AnswerOverride {
        let field = "answer_overrides[\(index)]"
        let choices = AnswerOverride.Blame.allCases.map(\.rawValue).joined(separator: ", ")
        guard let blame, let parsed = AnswerOverride.Blame(rawValue: blame) else {
            throw ValidationError("field '\(field).blame' is required and must be one of \(choices)")
        }
        if let status, !(100...599).contains(status) {
            throw ValidationError("field '\(field).status' must be an HTTP status between 100 and 599")
        }
        let text = body_contains
        if let text, text.isEmpty || text.count > AnswerOverride.maximumTextLength {
            throw ValidationError("field '\(field).body_contains' must be 1 to \(AnswerOverride.maximumTextLength) characters")
        }
        guard status != nil || text != nil else {
            throw ValidationError("field '\(field)' needs 'status', 'body_contains' or both: an override that matches every answer is refused")
        }
        return AnswerOverride(status: status, bodyContains: text, blame: parsed)
    }
}
