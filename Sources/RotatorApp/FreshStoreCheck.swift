import Foundation

/// Whether a lightweight node may start on its SQLite file. A missing or empty file beside secrets that an earlier
/// start left in the data directory means the store was lost or not mounted (a volume forgotten, a file truncated):
/// starting would serve an empty pool under the old proxy key, silently. Such a start is refused unless the
/// operator says a fresh store is wanted (`ALLOW_FRESH_STORE=true`).
struct FreshStoreCheck: Equatable {
    /// Bytes in the SQLite file and its write-ahead log; nil when neither exists.
    var storeBytes: UInt64?
    /// The secret files an earlier start generated into the data directory.
    var secretFilesFound: [String]
    var allowFreshStore: Bool

    /// Why the node must not start, naming the file and the way out; nil when it may.
    func refusal(databasePath: String) -> String? {
        guard !allowFreshStore, (storeBytes ?? 0) == 0, !secretFilesFound.isEmpty else { return nil }
        let state = storeBytes == nil ? "is missing" : "is empty (0 bytes)"
        return "the store \(databasePath) (DATABASE_PATH) \(state), but its folder holds secrets from an earlier start "
            + "(\(secretFilesFound.joined(separator: ", "))): the store was probably lost or not mounted. Restore the file, "
            + "or set ALLOW_FRESH_STORE=true to start with an empty store"
    }

    /// Reads the file system as it is before the node opens (and so creates) anything.
    static func reading(settings: Settings) -> FreshStoreCheck {
        let files = FileManager.default
        func size(_ path: String) -> UInt64? {
            (try? files.attributesOfItem(atPath: path))?[.size] as? UInt64
        }
        let sizes = [settings.databasePath, settings.databasePath + "-wal"].compactMap(size)
        let directory = settings.dataDirectory as NSString
        return FreshStoreCheck(
            storeBytes: sizes.isEmpty ? nil : sizes.reduce(0, +),
            secretFilesFound: NodeSecrets.generatedFileNames.filter { files.fileExists(atPath: directory.appendingPathComponent($0)) },
            allowFreshStore: settings.allowFreshStore
        )
    }
}
