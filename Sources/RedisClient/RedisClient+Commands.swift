extension RedisClient {
    public func ping() async throws {
        _ = try await send(["PING"])
    }

    public func get(_ key: String) async throws -> [UInt8]? {
        try await send(["GET", RedisArgument(key)]).bytes
    }

    public func set(_ key: String, to value: [UInt8]) async throws {
        _ = try await send(["SET", RedisArgument(key), RedisArgument(value)])
    }

    public func set(_ key: String, to value: String) async throws {
        _ = try await send(["SET", RedisArgument(key), RedisArgument(value)])
    }

    /// Returns how many subscribers received the message (on this Redis node).
    @discardableResult
    public func publish(_ message: String, to channel: String) async throws -> Int64 {
        try await send(["PUBLISH", RedisArgument(channel), RedisArgument(message)]).int ?? 0
    }

    // MARK: Lua

    public func eval(_ source: String, keys: [RedisArgument] = [], args: [RedisArgument] = []) async throws -> RESPValue {
        try await send(["EVAL", RedisArgument(source), RedisArgument(keys.count)] + keys + args)
    }

    public func evalsha(_ sha1: String, keys: [RedisArgument] = [], args: [RedisArgument] = []) async throws -> RESPValue {
        try await send(["EVALSHA", RedisArgument(sha1), RedisArgument(keys.count)] + keys + args)
    }

    /// Loads a script into Redis' script cache and returns its SHA-1.
    @discardableResult
    public func scriptLoad(_ source: String) async throws -> String {
        let reply = try await send(["SCRIPT", "LOAD", RedisArgument(source)])
        guard let sha = reply.string else {
            throw RedisError.protocolError("SCRIPT LOAD answered \(reply)")
        }
        return sha
    }

    /// Runs a script with one `EVALSHA` round trip. If Redis lost its script cache (`NOSCRIPT` after a
    /// restart or `SCRIPT FLUSH`), loads the script and retries once.
    public func evalScript(_ script: RedisScript, keys: [RedisArgument] = [], args: [RedisArgument] = []) async throws -> RESPValue {
        do {
            return try await evalsha(script.sha1, keys: keys, args: args)
        } catch let error as RedisError where error.serverErrorCode == "NOSCRIPT" {
            let sha = try await scriptLoad(script.source)
            guard sha == script.sha1 else {
                throw RedisError.protocolError("SCRIPT LOAD returned a different SHA-1 than computed")
            }
            return try await evalsha(script.sha1, keys: keys, args: args)
        }
    }
}
