import Foundation

/// The Lua script shipped as a resource (`Resources/key_coordinator.lua`).
enum KeyCoordinatorScript {
    static let source: String = {
        guard let url = Bundle.module.url(forResource: "key_coordinator", withExtension: "lua"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else {
            preconditionFailure("key_coordinator.lua is missing from the RedisCoordination bundle")
        }
        return text
    }()
}
