import CMariaDB
import RotatorSQL

/// One server-side prepared statement. Owns its `MYSQL_STMT` and closes it on deinit; only its connection
/// uses it, on the thread the connection is lent to.
final class MariaDBStatement {
    /// What one run of the statement produced.
    struct Outcome {
        var rows: [SQLRow] = []
        /// Rows matched (the connection uses CLIENT_FOUND_ROWS); 0 for statements that return a result set.
        var changes = 0
        var lastInsertID: Int64 = 0
    }

    private let pointer: UnsafeMutablePointer<MYSQL_STMT>
    let parameterCount: Int

    private init(pointer: UnsafeMutablePointer<MYSQL_STMT>) {
        self.pointer = pointer
        self.parameterCount = Int(mysql_stmt_param_count(pointer))
    }

    deinit {
        mysql_stmt_close(pointer)
    }

    static func prepare(_ sql: String, on mysql: UnsafeMutablePointer<MYSQL>) throws -> MariaDBStatement {
        guard let pointer = mysql_stmt_init(mysql) else {
            throw MariaDBErrorMapping.error(code: mysql_errno(mysql), message: String(cString: mysql_error(mysql)))
        }
        // Makes mysql_stmt_store_result compute each column's longest value, so result buffers fit exactly.
        var updateMaxLength: my_bool = 1
        mysql_stmt_attr_set(pointer, STMT_ATTR_UPDATE_MAX_LENGTH, &updateMaxLength)

        var text = sql
        let result = text.withUTF8 { utf8 in
            utf8.withMemoryRebound(to: CChar.self) { characters in
                mysql_stmt_prepare(pointer, characters.baseAddress, UInt(characters.count))
            }
        }
        guard result == 0 else {
            let error = statementError(pointer)
            mysql_stmt_close(pointer)
            throw error
        }
        return MariaDBStatement(pointer: pointer)
    }

    /// Binds `values`, executes, and reads the result set if there is one (always consumed, so the
    /// connection is ready for the next statement; rows are decoded only when `collectingRows`).
    func run(_ values: [SQLValue], collectingRows: Bool) throws -> Outcome {
        guard values.count == parameterCount else {
            throw SQLError(.invalidStatement, "statement has \(parameterCount) parameters but \(values.count) values were bound")
        }
        let parameters = ParameterBuffers(values)
        try withExtendedLifetime(parameters) {
            if parameterCount > 0, mysql_stmt_bind_param(pointer, parameters.binds) != 0 {
                throw Self.statementError(pointer)
            }
            if mysql_stmt_execute(pointer) != 0 {
                throw Self.statementError(pointer)
            }
        }

        guard let metadata = mysql_stmt_result_metadata(pointer) else {
            let affected = mysql_stmt_affected_rows(pointer)
            return Outcome(
                changes: affected == UInt64.max ? 0 : Int(clamping: affected),
                lastInsertID: Int64(clamping: mysql_stmt_insert_id(pointer))
            )
        }
        defer { mysql_free_result(metadata) }
        guard mysql_stmt_store_result(pointer) == 0 else {
            throw Self.statementError(pointer)
        }
        defer { mysql_stmt_free_result(pointer) }
        guard collectingRows else { return Outcome() }

        let columnCount = Int(mysql_num_fields(metadata))
        guard columnCount > 0, let fields = mysql_fetch_fields(metadata) else { return Outcome() }
        let result = ResultBuffers(fields: UnsafeBufferPointer(start: fields, count: columnCount))
        guard mysql_stmt_bind_result(pointer, result.binds) == 0 else {
            throw Self.statementError(pointer)
        }
        var rows: [SQLRow] = []
        rows.reserveCapacity(Int(clamping: mysql_stmt_num_rows(pointer)))
        while true {
            switch mysql_stmt_fetch(pointer) {
            case 0:
                rows.append(SQLRow(columns: result.columns, values: try result.currentRow(statement: pointer)))
            case MYSQL_DATA_TRUNCATED:
                // Only if max_length was unknown for a column: its value is fetched again at its full length.
                rows.append(SQLRow(columns: result.columns, values: try result.currentRow(statement: pointer, refetchingTruncated: true)))
            case MYSQL_NO_DATA:
                return Outcome(rows: rows)
            default:
                throw Self.statementError(pointer)
            }
        }
    }

    static func statementError(_ pointer: UnsafeMutablePointer<MYSQL_STMT>) -> SQLError {
        MariaDBErrorMapping.error(code: mysql_stmt_errno(pointer), message: String(cString: mysql_stmt_error(pointer)))
    }
}

/// Parameter values copied into C memory for one execution, wiped and freed afterwards so no bound secret
/// lingers in the process's heap longer than the statement.
private final class ParameterBuffers {
    let binds: UnsafeMutablePointer<MYSQL_BIND>
    private let count: Int
    private var allocations: [UnsafeMutableRawBufferPointer] = []

    init(_ values: [SQLValue]) {
        count = max(1, values.count)
        binds = .allocate(capacity: count)
        binds.initialize(repeating: MYSQL_BIND(), count: count)
        for (index, value) in values.enumerated() {
            switch value {
            case .null:
                binds[index].buffer_type = MYSQL_TYPE_NULL
            case .int(let int):
                let buffer = allocate(MemoryLayout<Int64>.size)
                buffer.storeBytes(of: int, as: Int64.self)
                set(index, MYSQL_TYPE_LONGLONG, buffer)
            case .double(let double):
                let buffer = allocate(MemoryLayout<Double>.size)
                buffer.storeBytes(of: double, as: Double.self)
                set(index, MYSQL_TYPE_DOUBLE, buffer)
            case .text(let text):
                var text = text
                text.withUTF8 { set(index, MYSQL_TYPE_STRING, copy(UnsafeRawBufferPointer($0))) }
            case .blob(let bytes):
                bytes.withUnsafeBytes { set(index, MYSQL_TYPE_BLOB, copy($0)) }
            }
        }
    }

    deinit {
        for buffer in allocations {
            cmariadb_wipe(buffer.baseAddress, buffer.count)
            buffer.deallocate()
        }
        binds.deinitialize(count: count)
        binds.deallocate()
    }

    private func set(_ index: Int, _ type: enum_field_types, _ buffer: UnsafeMutableRawBufferPointer) {
        binds[index].buffer_type = type
        binds[index].buffer = buffer.baseAddress
        // With `length` NULL, libmariadb sends `buffer_length` bytes.
        binds[index].buffer_length = UInt(buffer.count)
    }

    /// At least one byte, so that an empty text or blob has an address and is sent as '' rather than NULL.
    private func allocate(_ byteCount: Int) -> UnsafeMutableRawBufferPointer {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, byteCount), alignment: 8)
        allocations.append(buffer)
        return UnsafeMutableRawBufferPointer(rebasing: buffer[0..<byteCount])
    }

    private func copy(_ bytes: UnsafeRawBufferPointer) -> UnsafeMutableRawBufferPointer {
        let buffer = allocate(bytes.count)
        if !bytes.isEmpty { buffer.copyMemory(from: bytes) }
        return buffer
    }
}

/// Output buffers for one result set, sized from the columns' longest values.
private final class ResultBuffers {
    enum Kind {
        case integer(unsigned: Bool)
        case double
        /// DECIMAL arrives as text; SUM() of integers is DECIMAL, so whole numbers become `.int`.
        case decimal
        case text
        case blob
    }

    let columns: SQLColumns
    let binds: UnsafeMutablePointer<MYSQL_BIND>
    private let count: Int
    private let kinds: [Kind]
    private let buffers: [UnsafeMutableRawBufferPointer]
    private let lengths: UnsafeMutablePointer<UInt>
    private let nulls: UnsafeMutablePointer<my_bool>
    private let errors: UnsafeMutablePointer<my_bool>

    init(fields: UnsafeBufferPointer<MYSQL_FIELD>) {
        count = fields.count
        columns = SQLColumns(fields.enumerated().map { index, field in
            field.name.map { String(cString: $0) } ?? "column\(index)"
        })
        kinds = fields.map(Self.kind(of:))
        binds = .allocate(capacity: count)
        binds.initialize(repeating: MYSQL_BIND(), count: count)
        lengths = .allocate(capacity: count)
        lengths.initialize(repeating: 0, count: count)
        nulls = .allocate(capacity: count)
        nulls.initialize(repeating: 0, count: count)
        errors = .allocate(capacity: count)
        errors.initialize(repeating: 0, count: count)

        var buffers: [UnsafeMutableRawBufferPointer] = []
        for index in 0..<count {
            let field = fields[index]
            let byteCount: Int
            switch kinds[index] {
            case .integer(let unsigned):
                binds[index].buffer_type = MYSQL_TYPE_LONGLONG
                binds[index].is_unsigned = unsigned ? 1 : 0
                byteCount = 8
            case .double:
                binds[index].buffer_type = MYSQL_TYPE_DOUBLE
                byteCount = 8
            case .decimal, .text:
                binds[index].buffer_type = MYSQL_TYPE_STRING
                // Dates and decimals are formatted by libmariadb: leave room whatever max_length says.
                byteCount = max(Int(field.max_length), 64)
            case .blob:
                binds[index].buffer_type = MYSQL_TYPE_BLOB
                byteCount = max(Int(field.max_length), 1)
            }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: byteCount, alignment: 8)
            buffers.append(buffer)
            binds[index].buffer = buffer.baseAddress
            binds[index].buffer_length = UInt(byteCount)
            binds[index].length = lengths + index
            binds[index].is_null = nulls + index
            binds[index].error = errors + index
        }
        self.buffers = buffers
    }

    deinit {
        for buffer in buffers {
            cmariadb_wipe(buffer.baseAddress, buffer.count)
            buffer.deallocate()
        }
        binds.deinitialize(count: count)
        binds.deallocate()
        lengths.deallocate()
        nulls.deallocate()
        errors.deallocate()
    }

    static func kind(of field: MYSQL_FIELD) -> Kind {
        switch field.type {
        case MYSQL_TYPE_TINY, MYSQL_TYPE_SHORT, MYSQL_TYPE_INT24, MYSQL_TYPE_LONG, MYSQL_TYPE_LONGLONG, MYSQL_TYPE_YEAR:
            return .integer(unsigned: field.flags & UInt32(UNSIGNED_FLAG) != 0)
        case MYSQL_TYPE_FLOAT, MYSQL_TYPE_DOUBLE:
            return .double
        case MYSQL_TYPE_DECIMAL, MYSQL_TYPE_NEWDECIMAL:
            return .decimal
        case MYSQL_TYPE_DATE, MYSQL_TYPE_NEWDATE, MYSQL_TYPE_TIME, MYSQL_TYPE_TIME2, MYSQL_TYPE_DATETIME,
            MYSQL_TYPE_DATETIME2, MYSQL_TYPE_TIMESTAMP, MYSQL_TYPE_TIMESTAMP2, MYSQL_TYPE_JSON, MYSQL_TYPE_NULL:
            // Temporal columns report the binary character set but are text; so is MySQL's JSON.
            return .text
        default:
            // Character set 63 is `binary`: BLOB, VARBINARY, BINARY, BIT.
            return field.charsetnr == 63 ? .blob : .text
        }
    }

    func currentRow(statement: UnsafeMutablePointer<MYSQL_STMT>, refetchingTruncated: Bool = false) throws -> [SQLValue] {
        try (0..<count).map { index in
            guard nulls[index] == 0 else { return .null }
            let length = Int(lengths[index])
            if refetchingTruncated, errors[index] != 0, length > buffers[index].count {
                return try refetch(index, length: length, statement: statement)
            }
            return try value(at: index, bytes: UnsafeRawBufferPointer(rebasing: buffers[index][0..<min(length, buffers[index].count)]))
        }
    }

    private func value(at index: Int, bytes: UnsafeRawBufferPointer) throws -> SQLValue {
        switch kinds[index] {
        case .integer(unsigned: false):
            return .int(buffers[index].load(as: Int64.self))
        case .integer(unsigned: true):
            let unsigned = buffers[index].load(as: UInt64.self)
            guard let int = Int64(exactly: unsigned) else {
                throw SQLError(.decoding, "column '\(columns.names[index])' holds an unsigned integer too large for Int64")
            }
            return .int(int)
        case .double:
            return .double(buffers[index].load(as: Double.self))
        case .decimal:
            let text = String(decoding: bytes, as: UTF8.self)
            if let int = Int64(text) { return .int(int) }
            if let double = Double(text) { return .double(double) }
            return .text(text)
        case .text:
            return .text(String(decoding: bytes, as: UTF8.self))
        case .blob:
            return .blob(Array(bytes))
        }
    }

    private func refetch(_ index: Int, length: Int, statement: UnsafeMutablePointer<MYSQL_STMT>) throws -> SQLValue {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 8)
        defer {
            cmariadb_wipe(buffer.baseAddress, buffer.count)
            buffer.deallocate()
        }
        var bind = MYSQL_BIND()
        var fetchedLength: UInt = 0
        bind.buffer_type = binds[index].buffer_type
        bind.buffer = buffer.baseAddress
        bind.buffer_length = UInt(length)
        return try withUnsafeMutablePointer(to: &fetchedLength) { lengthPointer in
            bind.length = lengthPointer
            guard mysql_stmt_fetch_column(statement, &bind, UInt32(index), 0) == 0 else {
                throw MariaDBStatement.statementError(statement)
            }
            return try value(at: index, bytes: UnsafeRawBufferPointer(rebasing: buffer[0..<min(Int(lengthPointer.pointee), length)]))
        }
    }
}
