import NIOCore
import NIOHTTP1

import Foundation

/// Reads how long a provider wants a key to rest after a 429, from every signal providers use:
/// `Retry-After` (seconds or HTTP date), `retry-after-ms`, OpenAI's `x-ratelimit-reset-*` durations ("6m0s"),
/// `x-ratelimit-reset` (epoch seconds/ms or a delay), Anthropic's `anthropic-ratelimit-*-reset` timestamps,
/// and Gemini's `RetryInfo.retryDelay` in the error body.
public enum RateLimitReset {
    /// Seconds until the key may be used again, or nil when the response carries no signal.
    public static func seconds(headers: HTTPHeaders, body: ByteBuffer?, now: Date = Date()) -> Double? {
        if let value = headers.first(name: "retry-after-ms"), let milliseconds = Double(value.trimmingSpaces()), milliseconds >= 0 {
            return milliseconds / 1000
        }
        if let value = headers.first(name: "retry-after"), let seconds = retryAfter(value, now: now) {
            return seconds
        }
        var resets: [Double] = []
        for (name, value) in headers {
            let lower = name.lowercased()
            if lower.hasPrefix("x-ratelimit-reset") {
                if let seconds = lower == "x-ratelimit-reset" ? epochOrDelay(value, now: now) : duration(value) {
                    resets.append(seconds)
                }
            } else if lower.hasPrefix("anthropic-ratelimit-"), lower.hasSuffix("-reset"), let date = iso8601(value) {
                resets.append(date.timeIntervalSince(now))
            }
        }
        if let longest = resets.max() { return max(longest, 0) }
        if let body, let delay = geminiRetryDelay(body) { return delay }
        return nil
    }

    static func retryAfter(_ value: String, now: Date) -> Double? {
        let trimmed = value.trimmingSpaces()
        if let seconds = Double(trimmed) { return max(seconds, 0) }
        if let date = httpDate(trimmed) { return max(date.timeIntervalSince(now), 0) }
        return nil
    }

    /// OpenAI's Go-style durations: "1s", "6m0s", "20ms", "1h2m3.5s".
    static func duration(_ value: String) -> Double? {
        let text = value.trimmingSpaces()
        if let plain = Double(text) { return plain }
        var total = 0.0
        var number = ""
        var index = text.startIndex
        var sawUnit = false
        while index < text.endIndex {
            let character = text[index]
            if character.isNumber || character == "." {
                number.append(character)
                index = text.index(after: index)
                continue
            }
            guard let amount = Double(number) else { return nil }
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
        guard let number = Double(value.trimmingSpaces()) else { return duration(value) }
        if number > 1e12 { return number / 1000 - now.timeIntervalSince1970 }
        if number > 1e9 { return number - now.timeIntervalSince1970 }
        return number
    }

    static func geminiRetryDelay(_ body: ByteBuffer) -> Double? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
            let error = object["error"] as? [String: Any], let details = error["details"] as? [[String: Any]]
        else { return nil }
        for detail in details {
            if let type = detail["@type"] as? String, type.hasSuffix("RetryInfo"), let delay = detail["retryDelay"] as? String {
                return duration(delay)
            }
        }
        return nil
    }

    static func iso8601(_ value: String) -> Date? {
        let text = value.trimmingSpaces()
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
