/// The Lua script shipped as a resource (`Resources/key_coordinator.lua`).
enum KeyCoordinatorScript {
    static let source = ScriptResource.source(named: "key_coordinator")
}
