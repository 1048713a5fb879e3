import RedisClient

enum RedisFlush {
    static func flushAll(port: Int) async throws -> RESPValue {
        let client = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: port))
        defer { Task { await client.shutdown() } }
        return try await client.send(["FLUSHALL"])
    }
}
