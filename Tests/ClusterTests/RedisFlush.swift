import RedisClient

enum RedisFlush {
    /// FLUSHALL on a short-lived client, shut down (awaited) before returning.
    static func flushAll(port: Int) async throws -> RESPValue {
        let client = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: port))
        let reply: RESPValue
        do {
            reply = try await client.send(["FLUSHALL"])
        } catch {
            await client.shutdown()
            throw error
        }
        await client.shutdown()
        return reply
    }
}
