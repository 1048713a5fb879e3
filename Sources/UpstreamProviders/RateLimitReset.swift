import FormatConversion
import NIOHTTP1

import Foundation

/// Reads how long a provider wants a key to rest after a 429, from every signal providers use:
/// `Retry-After` (seconds or HTTP date), `retry-after-ms`, OpenAI's `x-ratelimit-reset-*` durations ("6m0s"),
/// `x-ratelimit-reset` (epoch seconds/ms or a delay), Anthropic's `anthropic-ratelimit-*-reset` timestamps,
/// and Gemini's `RetryInfo.retryDelay` in the error body (read once, into `ProviderError.retryDelay`).
///
/// Parsed strictly: a signal that is not a plain non-negative number, duration or date (NaN, infinity, `-5`, `0x10`,
/// `1e9`), or that asks for more than `plausibleMaximum`, is ignored, so the caller's default applies instead.
/// A reset time already past means "now" (0).
public enum RateLimitReset {
    /// No provider asks a key to rest longer than a day (Gemini's per-day quotas reset within one).
    public static let plausibleMaximum: Double = GeminiRetryInfo.plausibleMaximum

    /// Seconds until the key may be used again, or nil when the response carries no usable signal.
    /// - Parameter retryDelay: the error body's `RetryInfo` delay (`ProviderError.retryDelay`).
    public static func seconds(headers: HTTPHeaders, retryDelay: Double?, now: Date = Date()) -> Double? {
        if let wait = headerWait(headers, now: now) { return wait }
        var resets: [Double] = []
        for (name, value) in headers {
            let lower = name.lowercased()
            let seconds: Double?
            if lower == "x-ratelimit-reset" {
                seconds = epochOrDelay(value, now: now)
            } else if lower.hasPrefix("x-ratelimit-reset") {
                seconds = duration(value)
            } else if lower.hasPrefix("anthropic-ratelimit-"), lower.hasSuffix("-reset") {
                seconds = iso8601(value).map { max($0.timeIntervalSince(now), 0) }
            } else {
                seconds = nil
            }
            if let seconds = plausible(seconds) { resets.append(seconds) }
        }
        if let longest = resets.max() { return longest }
        return retryDelay
    }

    /// Only what the provider says explicitly about this answer (`Retry-After`, `retry-after-ms`, Gemini's
    /// `RetryInfo`), not its rate windows' resets: for answers such as an exhausted quota, where those windows say
    /// nothing about when the quota returns.
    public static func explicitWait(headers: HTTPHeaders, retryDelay: Double?, now: Date = Date()) -> Double? {
        headerWait(headers, now: now) ?? retryDelay
    }

    private static func headerWait(_ headers: HTTPHeaders, now: Date) -> Double? {
        if let value = headers.first(name: "retry-after-ms"), let milliseconds = plainNumber(value), let seconds = plausible(milliseconds / 1000) {
            return seconds
        }
        if let value = headers.first(name: "retry-after"), let seconds = plausible(retryAfter(value, now: now)) {
            return seconds
        }
        return nil
    }

    static func plausible(_ seconds: Double?) -> Double? {
        guard let seconds, seconds.isFinite, seconds >= 0, seconds <= plausibleMaximum else { return nil }
        return seconds
    }

    static func plainNumber<S: StringProtocol>(_ text: S) -> Double? {
        PlainNumber.parse(text)
    }

    static func retryAfter(_ value: String, now: Date) -> Double? {
        let trimmed = String(PlainNumber.trimmingSpaces(value))
        if let seconds = plainNumber(trimmed) { return seconds }
        if let date = httpDate(trimmed) { return max(date.timeIntervalSince(now), 0) }
        return nil
    }

    /// OpenAI's Go-style durations: "1s", "6m0s", "20ms", "1h2m3.5s".
    static func duration(_ value: String) -> Double? {
        let text = String(PlainNumber.trimmingSpaces(value))
        if let plain = plainNumber(text) { return plain }
        var total = 0.0
        var number = ""
        var index = text.startIndex
        var sawUnit = false
        while index < text.endIndex {
            let character = text[index]
            if character.isASCII, character.isNumber || character == "." {
                number.append(character)
                index = text.index(after: index)
                continue
            }
            guard let amount = plainNumber(number) else { return nil }
            let remainder = text[index...]
            if remainder.hasPrefix("ms") {
                total += amount / 1000
                index = text.index(index, offsetBy: 2)
            } else if character == "h" {
                total += amount * 3600
                index = text.index(after: index)
            } else if character == "m" {
                total += amount * 60
                index = text.index(after: index)
            } else if character == "s" {
                total += amount
                index = text.index(after: index)
            } else {
                return nil
            }
            number = ""
            sawUnit = true
        }
        return sawUnit && number.isEmpty ? total : nil
    }

    /// `x-ratelimit-reset`: epoch milliseconds (OpenRouter), epoch seconds, or a delay in seconds.
    static func epochOrDelay(_ value: String, now: Date) -> Double? {
        guard let number = plainNumber(value) else { return duration(value) }
        if number > 1e12 { return max(number / 1000 - now.timeIntervalSince1970, 0) }
        if number > 1e9 { return max(number - now.timeIntervalSince1970, 0) }
        return number
    }

    static func iso8601(_ value: String) -> Date? {
        let text = String(PlainNumber.trimmingSpaces(value))
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    static func httpDate(_ value: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: value)
    }
}
