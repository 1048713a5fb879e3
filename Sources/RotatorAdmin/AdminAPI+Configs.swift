import Foundation
import Hummingbird
import RotatorCore
import RotatorHTTP
import RotatorStore

/// `/admin/proxy-configs`: the configs, their status and their traffic.
extension AdminAPI {
    var configResource: AdminResource {
        AdminResource("/admin/proxy-configs", [
            AdminRoute(.get, handler: listConfigs),
            AdminRoute(.post, handler: createConfig),
            AdminRoute(.get, "/{id}", handler: getConfig),
            AdminRoute(.put, "/{id}", handler: updateConfig),
            AdminRoute(.delete, "/{id}", handler: deleteConfig),
            AdminRoute(.put, "/{id}/status", handler: setConfigStatus),
            AdminRoute(.get, "/{id}/traffic", handler: configTraffic),
        ])
    }

    private func listConfigs(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        await flushUsage()
        let configs = try await store.listConfigs()
        var views: [ProxyConfigView] = []
        for config in configs {
            views.append(try await configView(config))
        }
        return JSONBody.response(views)
    }

    private func getConfig(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        await flushUsage()
        let config = try await existingConfig(context)
        return JSONBody.response(try await configView(config))
    }

    private func createConfig(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let input = try await AdminJSON.decode(ProxyConfigInput.self, from: request, context: context)
        let draft = try input.draft(over: nil)
        let config = try await editor.createConfig(draft)
        await audit(context, "config.create", target: "config:\(config.id)", after: ProxyConfigView(config, keys: []))
        context.logger.info("config created", metadata: ["config_id": "\(config.id)", "slug": .string(config.slug)])
        return JSONBody.response(ProxyConfigView(config, keys: []), status: .created)
    }

    private func updateConfig(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let current = try await existingConfig(context)
        let input = try await AdminJSON.decode(ProxyConfigInput.self, from: request, context: context)
        let draft = try input.draft(over: current)
        guard let config = try await editor.updateConfig(id: current.id, with: draft) else {
            throw APIError.notFound("no proxy config with id \(current.id)")
        }
        await audit(context, "config.update", target: "config:\(config.id)", before: ProxyConfigView(current, keys: []), after: ProxyConfigView(config, keys: []))
        return JSONBody.response(try await configView(config))
    }

    private func setConfigStatus(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let id = try Self.id(context)
        let input = try await AdminJSON.decode(StatusInput.self, from: request, context: context)
        guard let config = try await editor.setConfigActive(id: id, isActive: input.is_active) else {
            throw APIError.notFound("no proxy config with id \(id)")
        }
        await audit(context, "config.status", target: "config:\(id)", before: ["is_active": !input.is_active], after: ["is_active": input.is_active])
        return JSONBody.response(try await configView(config))
    }

    private func deleteConfig(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let id = try Self.id(context)
        let before = try await store.config(id: id)
        let keyCount = try await store.keys(configID: id).count
        guard try await editor.deleteConfig(id: id) else {
            throw APIError.notFound("no proxy config with id \(id)")
        }
        await audit(context, "config.delete", target: "config:\(id)", before: before.map { DeletedConfigSummary(config: ProxyConfigView($0, keys: []), key_count: keyCount) })
        return JSONBody.response(DeletedOutput(id: id, deleted: 1))
    }
}
