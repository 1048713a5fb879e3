import Foundation
import Hummingbird
import RotatorCore
import RotatorHTTP
import RotatorStore

/// `/admin/proxy-configs/{id}/keys`: a config's keys (add, import, clear, export); `/admin/keys/{id}`: one key.
extension AdminAPI {
    var configKeysResource: AdminResource {
        AdminResource("/admin/proxy-configs/{id}/keys", [
            AdminRoute(.get, handler: listKeys),
            AdminRoute(.post, handler: addKey),
            AdminRoute(.delete, handler: deleteKeys),
            AdminRoute(.post, "/batch", handler: addKeys),
            AdminRoute(.get, "/export", handler: exportKeys),
        ])
    }

    var keyResource: AdminResource {
        AdminResource("/admin/keys", [
            AdminRoute(.patch, "/{id}", handler: setKeyStatus),
            AdminRoute(.delete, "/{id}", handler: deleteKey),
            AdminRoute(.post, "/{id}/check", handler: checkKey),
        ])
    }

    private func listKeys(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        await flushUsage()
        let config = try await existingConfig(context)
        return JSONBody.response(try await keyViews(configID: config.id))
    }

    private func addKey(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let config = try await existingConfig(context)
        let input = try await AdminJSON.decode(KeyInput.self, from: request, context: context)
        let record = try await editor.addKey(configID: config.id, secret: input.key_value, isActive: input.is_active ?? true)
        await audit(context, "key.add", target: "key:\(record.id)", after: KeyView(record, runtime: nil))
        return JSONBody.response(KeyView(record, runtime: nil), status: .created)
    }

    private func addKeys(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let config = try await existingConfig(context)
        let input = try await AdminJSON.decode(BatchInput.self, from: request, context: context)
        let result = try await editor.addKeys(configID: config.id, secrets: input.keys)
        let checks = try Self.wantsCheck(request) ? await checkImported(input.keys, config: config) : nil
        await audit(context, "keys.import", target: "config:\(config.id)", after: ImportSummary(result, checks: checks))
        context.logger.info("keys imported", metadata: [
            "config_id": "\(config.id)", "added": "\(result.successCount)", "skipped": "\(result.skippedCount)", "failed": "\(result.failedCount)",
        ])
        return JSONBody.response(ImportReport(result: result, checks: checks))
    }

    private func deleteKeys(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let config = try await existingConfig(context)
        let before = try await store.keys(configID: config.id)
        let count = try await editor.deleteKeys(configID: config.id)
        await audit(context, "keys.clear", target: "config:\(config.id)", before: ClearedKeys(count: before.count, keys: before.prefix(100).map(\.maskedValue)))
        return JSONBody.response(DeletedOutput(id: config.id, deleted: count))
    }

    private func setKeyStatus(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let id = try Self.id(context)
        let input = try await AdminJSON.decode(StatusInput.self, from: request, context: context)
        let before = try await store.key(id: id)
        guard let record = try await editor.setKeyActive(id: id, isActive: input.is_active) else {
            throw APIError.notFound("no key with id \(id)")
        }
        await audit(context, input.is_active ? "key.enable" : "key.disable", target: "key:\(id)",
                    before: before.map(KeyStateSummary.init), after: KeyStateSummary(record))
        let runtime = await coordinator.runtimeStates(pool: record.proxyConfigID)[id]
        let events = await trafficSource.events(record.proxyConfigID)[id] ?? []
        return JSONBody.response(KeyView(record, runtime: runtime, events: events))
    }

    private func deleteKey(_ request: Request, _ context: RotatorRequestContext) async throws -> Response {
        let id = try Self.id(context)
        guard let record = try await editor.deleteKey(id: id) else {
            throw APIError.notFound("no key with id \(id)")
        }
        await audit(context, "key.delete", target: "key:\(id)", before: KeyView(record, runtime: nil))
        return JSONBody.response(DeletedOutput(id: id, deleted: 1))
    }
}
