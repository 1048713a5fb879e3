import Foundation

/// The Lua scripts shipped as resources of this target.
enum ScriptResource {
    static func source(named name: String) -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: "lua"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else {
            preconditionFailure("\(name).lua is missing from the RedisCoordination bundle")
        }
        return text
    }
}
