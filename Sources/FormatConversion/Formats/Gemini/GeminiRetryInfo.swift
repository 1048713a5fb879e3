/// Google's `google.rpc.RetryInfo` in an error's `details`: how long the caller should wait, as a protobuf Duration
/// in JSON (`"30s"`, `"1.5s"`). Read here, strictly, for both the relay's reset hint and a converted answer's
/// `Retry-After`: a delay that is not a plain non-negative number of seconds, or that asks for more than a day, is
/// no hint at all.
public enum GeminiRetryInfo {
    /// No provider asks a key to rest longer than a day (Gemini's per-day quotas reset within one).
    public static let plausibleMaximum: Double = 86_400

    /// Seconds from the first `RetryInfo` among `error.details`; `error` is the body's `error` object.
    public static func delay(inError error: JSONValue?) -> Double? {
        guard let details = error?["details"]?.array else { return nil }
        for detail in details {
            guard let type = detail["@type"]?.string, type.hasSuffix("RetryInfo") else { continue }
            guard let delay = detail["retryDelay"]?.string, delay.hasSuffix("s"), let seconds = PlainNumber.parse(delay.dropLast()),
                seconds <= plausibleMaximum
            else { return nil }
            return seconds
        }
        return nil
    }
}
