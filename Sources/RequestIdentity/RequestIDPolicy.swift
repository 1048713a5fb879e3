/// Which client-sent request ids are kept (and forwarded upstream) instead of replaced by a fresh one.
public enum RequestIDPolicy {
    /// 1–128 characters of letters, digits and `-_.:`; anything else could forge log lines.
    public static func acceptable(_ value: String?) -> String? {
        guard let value, (1...128).contains(value.utf8.count) else { return nil }
        let allowed = value.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x5F || byte == 0x2E || byte == 0x3A
        }
        return allowed ? value : nil
    }
}
