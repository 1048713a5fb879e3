#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import RotatorSQL

/// Creates the database file and its directory before SQLite does, so they get owner-only modes:
/// the file holds encrypted keys, but its names, slugs and counters are nobody else's business either.
/// SQLite gives the -wal and -shm files the main file's mode.
enum SQLiteFiles {
    static func isInMemory(_ path: String) -> Bool {
        path == ":memory:" || path.isEmpty
    }

    static func prepare(path: String) throws {
        guard !isInMemory(path), !path.hasPrefix("file:") else { return }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try createDirectories(String(path[..<slash]))
        }
        let descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if descriptor >= 0 {
            close(descriptor)
        } else if errno != EEXIST {
            throw failure("cannot create database file \(path)")
        }
        // An existing file keeps its mode: it may belong to an operator who chose it.
    }

    /// `mkdir -p` with mode 0700 for each directory it creates.
    private static func createDirectories(_ directory: String) throws {
        var prefix = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw failure("cannot create directory \(prefix)")
            }
        }
    }

    private static func failure(_ what: String) -> SQLError {
        let code = errno
        let reason = strerror(code).map { String(cString: $0) } ?? "errno \(code)"
        return SQLError(.unavailable, code: code, "\(what): \(reason)")
    }
}
