import Foundation

/// The Lua scripts shipped as resources of this target.
enum ScriptResource {
    /// Lua every script of this target shares, put before its own text: `clock_now()`, the clock override in
    /// seconds (`ARGV[2]`, for tests) or, when it is '', Redis `TIME` (the only clock in production).
    static let prelude = """
        local function clock_now()
          if ARGV[2] ~= '' then return tonumber(ARGV[2]) end
          local t = redis.call('TIME')
          return tonumber(t[1]) + tonumber(t[2]) / 1000000
        end

        """

    /// The script `name`, after `prelude`.
    static func source(named name: String) -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: "lua"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else {
            preconditionFailure("\(name).lua is missing from the RedisCoordination bundle")
        }
        return prelude + text
    }
}
