/// A provider's number in text (`Retry-After`, rate-limit headers, Gemini's `retryDelay`), read strictly: digits with
/// an optional fraction and nothing else. Swift's `Double("nan")`, `Double("inf")`, `Double("0x1p4")`, `Double("-1")`
/// and `Double("1e400")` all parse, and none of them is a wait.
public enum PlainNumber {
    public static func parse<S: StringProtocol>(_ text: S) -> Double? {
        let trimmed = trimmingSpaces(text)
        var sawDigit = false
        var sawPoint = false
        for byte in trimmed.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): sawDigit = true
            case UInt8(ascii: ".") where !sawPoint && sawDigit: sawPoint = true
            default: return nil
            }
        }
        guard sawDigit, trimmed.utf8.last != UInt8(ascii: "."), trimmed.utf8.count <= 32 else { return nil }
        return Double(trimmed)
    }

    /// The text without leading and trailing spaces and tabs (HTTP's optional whitespace).
    public static func trimmingSpaces<S: StringProtocol>(_ text: S) -> Substring {
        var trimmed = Substring(text)
        while let first = trimmed.first, first == " " || first == "\t" { trimmed.removeFirst() }
        while let last = trimmed.last, last == " " || last == "\t" { trimmed.removeLast() }
        return trimmed
    }
}
