import Foundation
import Hummingbird

/// The two body fields the mock cares about. A body that is not JSON reads as "not streaming, default model":
/// the mock answers rather than judging what the rotator forwarded; tests inspect `recordedRequests` for that.
struct GenerationRequest: Decodable, Sendable {
    var stream: Bool?
    var model: String?

    static func parse(_ body: ByteBuffer) -> GenerationRequest {
        guard body.readableBytes > 0,
            let parsed = try? JSONDecoder().decode(GenerationRequest.self, from: Data(body.readableBytesView))
        else { return GenerationRequest() }
        return parsed
    }
}
