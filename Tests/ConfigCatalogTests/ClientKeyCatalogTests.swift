import ClientAccess
import ConfigCatalog
import Foundation
import KeyCoordination
import Logging
import RotatorStore
import Synchronization
import Testing

/// Two nodes' catalogs on one store: one writes client keys through its editor, the other hears of it through the
/// change message (as the Redis listener hands it over) and refuses a revoked, disabled or rotated-out secret at once.
@Suite struct ClientKeyCatalogTests {
    /// Hands each message to the other node's catalog, as the invalidation listener does; or drops it (a lost message).
    final class ForwardingPublisher: ConfigChangePublisher {
        let target = Mutex<ConfigCatalog?>(nil)
        let dropping = Atomic<Bool>(false)
        let sent = Mutex<[ConfigChangeMessage]>([])

        func publish(_ message: ConfigChangeMessage) async {
            sent.withLock { $0.append(message) }
            guard !dropping.load(ordering: .relaxed), let target = target.withLock({ $0 }) else { return }
            try? await target.apply(message)
        }
    }

    struct Nodes {
        let writer: ConfigCatalog
        let reader: ConfigCatalog
        let readerStore: InstrumentedStore
        let editor: ConfigEditor
        let publisher: ForwardingPublisher

        static func make() async throws -> Nodes {
            let fixture = try await ConfigCatalogTests.Fixture.make()
            let hasher = ClientKeyHasher(encryptionKey: "shared by the fleet")
            let publisher = ForwardingPublisher()
            let writer = ConfigCatalog(
                store: fixture.store, coordinator: InMemoryKeyCoordinator(), publisher: publisher, clientKeys: ClientKeyRegistry(hasher: hasher),
                logger: Logger(label: "writer")
            )
            let readerStore = InstrumentedStore(fixture.store.base)
            let reader = ConfigCatalog(
                store: readerStore, coordinator: InMemoryKeyCoordinator(), clientKeys: ClientKeyRegistry(hasher: hasher), logger: Logger(label: "reader")
            )
            publisher.target.withLock { $0 = reader }
            try await writer.reloadAll()
            try await reader.reloadAll()
            return Nodes(writer: writer, reader: reader, readerStore: readerStore, editor: ConfigEditor(catalog: writer), publisher: publisher)
        }

        func identify(_ secret: String) -> [ClientIdentity] {
            [writer, reader].map { $0.clientKeys!.identify(secret: secret) }
        }
    }

    @Test func everyChangeReachesTheOtherNodeAtOnce() async throws {
        let nodes = try await Nodes.make()
        let issued = try await nodes.editor.createClientKey(ClientKeyDraft(name: "team-a", limits: ClientKeyLimits(rpm: 60)))
        #expect(nodes.identify(issued.secret).allSatisfy { $0 == .key(issued.key) })
        #expect(nodes.identify("rk-" + String(repeating: "x", count: 43)).allSatisfy { $0 == .unknown })

        var draft = ClientKeyDraft(issued.key)
        draft.enabled = false
        nodes.readerStore.resetCounts()
        let clock = ContinuousClock()
        let started = clock.now
        _ = try await nodes.editor.updateClientKey(id: issued.key.id, with: draft)
        let elapsed = clock.now - started
        #expect(nodes.identify(issued.secret).allSatisfy { $0 == .refused(.disabled) })
        #expect(nodes.readerStore.count("clientKey") == 1 && nodes.readerStore.count("allClientKeys") == 0, "one key read, not all")
        print("client key disabled on both catalogs in \(elapsed)")

        draft.enabled = true
        _ = try await nodes.editor.updateClientKey(id: issued.key.id, with: draft)
        let graced = try #require(try await nodes.editor.rotateClientKey(id: issued.key.id, graceSeconds: 300))
        #expect(nodes.identify(issued.secret).allSatisfy { if case .key = $0 { true } else { false } }, "the old secret during its grace")
        #expect(nodes.identify(graced.secret).allSatisfy { $0 == .key(graced.key) })
        let abrupt = try #require(try await nodes.editor.rotateClientKey(id: issued.key.id, graceSeconds: 0))
        #expect(nodes.identify(graced.secret).allSatisfy { $0 == .refused(.rotated) }, "no grace: refused at once")
        #expect(nodes.identify(issued.secret).allSatisfy { $0 == .unknown }, "two rotations ago: forgotten")

        _ = try await nodes.editor.revokeClientKey(id: issued.key.id)
        #expect(nodes.identify(abrupt.secret).allSatisfy { $0 == .refused(.revoked) })
        #expect(try await nodes.editor.revokeClientKey(id: issued.key.id) == nil)

        // The reader skipped nothing: its own version check finds no work.
        nodes.readerStore.resetCounts()
        try await nodes.reader.reloadIfStale()
        #expect(nodes.readerStore.count("allClientKeys") == 0)
        #expect(nodes.publisher.sent.withLock { $0 }.allSatisfy { if case .clientKeyChanged(issued.key.id, _?) = $0 { true } else { false } })
    }

    /// A lost message is repaired by the periodic version check, which reloads the client keys.
    @Test func aLostMessageIsRepairedByTheVersionCheck() async throws {
        let nodes = try await Nodes.make()
        let issued = try await nodes.editor.createClientKey(ClientKeyDraft(name: "team-b"))
        nodes.publisher.dropping.store(true, ordering: .relaxed)
        _ = try await nodes.editor.revokeClientKey(id: issued.key.id)
        #expect(nodes.reader.clientKeys?.identify(secret: issued.secret) == .key(issued.key), "not told yet")
        try await nodes.reader.reloadIfStale()
        #expect(nodes.reader.clientKeys?.identify(secret: issued.secret) == .refused(.revoked))
        #expect(nodes.writer.clientKeys?.identify(secret: issued.secret) == .refused(.revoked))
    }

    @Test func clientKeyMessagesRoundTrip() {
        for message in [ConfigChangeMessage.clientKeyChanged(id: 7, version: 12), .clientKeyChanged(id: 7, version: nil)] {
            #expect(ConfigChangeMessage(payload: message.payload) == message)
        }
        #expect(ConfigChangeMessage(payload: "client-key:7:12") == .clientKeyChanged(id: 7, version: 12))
        for junk in ["client-key:", "client-key:0:1", "client-key:7:x", "client-key:7:1:2", "client-key:-1"] {
            #expect(ConfigChangeMessage(payload: junk) == nil)
        }
    }
}
