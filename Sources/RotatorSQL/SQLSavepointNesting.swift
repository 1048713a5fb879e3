/// A connection whose transactions nest: the outermost level is a transaction, each deeper level a savepoint
/// `rotator_<depth>` inside it. Both drivers run theirs this way; each says only how it opens the outermost level,
/// runs one control statement and knows whether a rollback is still needed.
public protocol SQLSavepointNesting: AnyObject {
    /// How many levels are open; only `nestedTransaction` changes it (and a reconnect, which resets it to 0).
    var transactionDepth: Int { get set }
    /// The statement that opens the outermost level (`START TRANSACTION`, `BEGIN IMMEDIATE`).
    var beginStatement: String { get }
    /// False when the connection or the server has already rolled back (connection lost, SQLite's own rollback).
    var needsRollback: Bool { get }
    func runControl(_ sql: String) throws
}

extension SQLSavepointNesting {
    /// Runs `body` in a new level; commits it (or releases its savepoint) when `body` returns, rolls it back
    /// when `body` or the commit throws.
    public func nestedTransaction<T>(_ body: () throws -> T) throws -> T {
        let depth = transactionDepth
        try runControl(depth == 0 ? beginStatement : "SAVEPOINT rotator_\(depth)")
        transactionDepth += 1
        defer { transactionDepth = depth }

        let value: T
        do {
            value = try body()
        } catch {
            rollBack(depth: depth)
            throw error
        }
        do {
            try runControl(depth == 0 ? "COMMIT" : "RELEASE SAVEPOINT rotator_\(depth)")
        } catch {
            rollBack(depth: depth)
            throw error
        }
        return value
    }

    private func rollBack(depth: Int) {
        guard needsRollback else { return }
        // Errors here are dropped: the caller sees the failure that caused the rollback.
        if depth == 0 {
            try? runControl("ROLLBACK")
        } else {
            try? runControl("ROLLBACK TO SAVEPOINT rotator_\(depth)")
            try? runControl("RELEASE SAVEPOINT rotator_\(depth)")
        }
    }
}
