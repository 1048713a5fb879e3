/// Message content in OpenAI's two formats: a string, or typed parts of text and images (Chat's `text` and
/// `image_url: {url}`, Responses' `input_text`/`output_text` and `input_image: "url"`).
struct OpenAIContentParts: Sendable {
    var textTypes: Set<String>
    var imageType: String
    /// The image's URL or data URI in a part, nil when the part carries none (a Responses `file_id`).
    var imageURL: @Sendable (JSONValue) -> String?

    static let chat = OpenAIContentParts(textTypes: ["text"], imageType: "image_url") { $0["image_url"]?["url"]?.string ?? $0["image_url"]?.string }
    static let responses = OpenAIContentParts(textTypes: ["input_text", "output_text", "text"], imageType: "input_image") { $0["image_url"]?.string }

    func parts(_ content: JSONValue?, field: String, dropped: inout DroppedFeatures) throws(ConversionFailure) -> [MessagePart] {
        switch content {
        case .string(let text)?: return [.text(text)]
        case .array(let parts)?:
            var result: [MessagePart] = []
            for part in parts {
                let type = part["type"]?.string ?? "?"
                if textTypes.contains(type) {
                    result.append(.text(part["text"]?.string ?? ""))
                } else if type == imageType {
                    guard let url = imageURL(part) else {
                        dropped.add("\(type) without an image URL (file ids need the provider's storage)")
                        continue
                    }
                    result.append(.image(ImageSource(urlOrDataURI: url)))
                } else {
                    dropped.add("content part '\(type)'")
                }
            }
            return result
        default: throw .field(field, "must be a string or an array of parts")
        }
    }
}
