import Foundation
import RotatorCore

/// `proxy_configs.model_map`: the map as a JSON object with sorted keys, NULL when empty.
enum ModelMapColumn {
    static func encode(_ map: [String: String]) -> String? {
        guard !map.isEmpty else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(map)).map { String(decoding: $0, as: UTF8.self) }
    }

    static func decode(_ text: String?, configID: Int64) throws -> [String: String] {
        guard let text, !text.isEmpty else { return [:] }
        guard let map = try? JSONDecoder().decode([String: String].self, from: Data(text.utf8)) else {
            throw StoreError.corrupt("config \(configID) has a model_map that is not a JSON object of strings")
        }
        return map
    }
}
