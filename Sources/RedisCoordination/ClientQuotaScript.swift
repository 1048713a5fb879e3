/// The Lua script shipped as a resource (`Resources/client_quota.lua`).
enum ClientQuotaScript {
    static let source = ScriptResource.source(named: "client_quota")
}
