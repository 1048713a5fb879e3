import CSQLite
import RotatorSQL

/// One prepared statement. Owns its `sqlite3_stmt` and finalizes it on deinit; only its connection uses it,
/// on the connection's thread.
final class SQLiteStatement {
    let pointer: OpaquePointer

    init(pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        sqlite3_finalize(pointer)
    }

    var columns: SQLColumns {
        let count = sqlite3_column_count(pointer)
        return SQLColumns((0..<count).map { index in
            sqlite3_column_name(pointer, index).map { String(cString: $0) } ?? "column\(index)"
        })
    }

    /// Binds every value with SQLITE_TRANSIENT, so SQLite copies the bytes before each call returns.
    func bind(_ values: [SQLValue], database: OpaquePointer) throws {
        let expected = Int(sqlite3_bind_parameter_count(pointer))
        guard expected == values.count else {
            throw SQLError(.invalidStatement, "statement has \(expected) parameters but \(values.count) values were bound")
        }
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let result: Int32
            switch value {
            case .null:
                result = sqlite3_bind_null(pointer, index)
            case .int(let int):
                result = sqlite3_bind_int64(pointer, index, int)
            case .double(let double):
                result = sqlite3_bind_double(pointer, index, double)
            case .text(let text):
                result = bindText(text, at: index)
            case .blob(let bytes):
                result = bindBlob(bytes, at: index)
            }
            guard result == SQLITE_OK else {
                throw SQLiteErrorMapping.error(database: database, result: result)
            }
        }
    }

    private func bindText(_ text: String, at index: Int32) -> Int32 {
        var text = text
        return text.withUTF8 { utf8 in
            // An empty buffer may have no address, and a NULL pointer would bind SQL NULL instead of ''.
            guard let base = utf8.baseAddress, !utf8.isEmpty else {
                return sqlite3_bind_text(pointer, index, "", 0, csqlite_transient())
            }
            return base.withMemoryRebound(to: CChar.self, capacity: utf8.count) { characters in
                sqlite3_bind_text64(
                    pointer, index, characters, sqlite3_uint64(utf8.count), csqlite_transient(), UInt8(SQLITE_UTF8))
            }
        }
    }

    private func bindBlob(_ bytes: [UInt8], at index: Int32) -> Int32 {
        // Same as text: an empty blob must not become NULL.
        guard !bytes.isEmpty else { return sqlite3_bind_zeroblob(pointer, index, 0) }
        return bytes.withUnsafeBytes { buffer in
            sqlite3_bind_blob64(pointer, index, buffer.baseAddress, sqlite3_uint64(buffer.count), csqlite_transient())
        }
    }

    /// The current row's values; valid only right after `sqlite3_step` returned SQLITE_ROW.
    func currentRow(columnCount: Int) -> [SQLValue] {
        (0..<Int32(columnCount)).map { column(at: $0) }
    }

    private func column(at index: Int32) -> SQLValue {
        switch sqlite3_column_type(pointer, index) {
        case SQLITE_INTEGER:
            return .int(sqlite3_column_int64(pointer, index))
        case SQLITE_FLOAT:
            return .double(sqlite3_column_double(pointer, index))
        case SQLITE_TEXT:
            // sqlite3_column_text before sqlite3_column_bytes, as SQLite documents.
            guard let characters = sqlite3_column_text(pointer, index) else { return .text("") }
            let count = Int(sqlite3_column_bytes(pointer, index))
            return .text(String(decoding: UnsafeBufferPointer(start: characters, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            guard let bytes = sqlite3_column_blob(pointer, index) else { return .blob([]) }
            let count = Int(sqlite3_column_bytes(pointer, index))
            return .blob(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
        default:
            return .null
        }
    }

    /// Makes the statement reusable and drops bound values, so no secret lingers in a cached statement.
    func reset() {
        sqlite3_reset(pointer)
        sqlite3_clear_bindings(pointer)
    }
}
