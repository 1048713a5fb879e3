/// An image as the client gave it: inline bytes (base64) or a URL the upstream fetches itself.
public enum ImageSource: Sendable, Equatable {
    case base64(mediaType: String, data: String)
    case url(String)

    /// `data:image/png;base64,...` becomes `.base64`; anything else is a URL.
    public init(urlOrDataURI value: String) {
        if value.hasPrefix("data:"), let comma = value.firstIndex(of: ",") {
            let header = value[value.index(value.startIndex, offsetBy: 5)..<comma]
            if header.hasSuffix(";base64") {
                self = .base64(mediaType: String(header.dropLast(7)), data: String(value[value.index(after: comma)...]))
                return
            }
        }
        self = .url(value)
    }

    /// The `data:` URI or URL form OpenAI's formats take.
    public var urlOrDataURI: String {
        switch self {
        case .base64(let mediaType, let data): "data:\(mediaType);base64,\(data)"
        case .url(let url): url
        }
    }
}
