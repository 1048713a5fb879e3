import Foundation

/// The driver's JSON: snake_case keys, sorted, so results diff well.
public enum ResultJSON {
    public static func encode(_ result: LoadResult) throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(result)
    }

    public static func decode(_ data: Data) throws -> LoadResult {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(LoadResult.self, from: data)
    }
}
