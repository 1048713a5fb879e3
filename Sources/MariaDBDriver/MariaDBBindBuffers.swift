import CMariaDB
import RotatorSQL

/// Parameter values copied into C memory for one execution, wiped and freed afterwards so no bound secret
/// lingers in the process's heap longer than the statement.
final class ParameterBuffers {
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
        release(binds, count: count, buffers: allocations)
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
final class ResultBuffers {
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
        release(binds, count: count, buffers: buffers)
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

/// Wipes (values may be secrets) and frees `buffers`, then frees the `count` binds that pointed into them.
private func release(_ binds: UnsafeMutablePointer<MYSQL_BIND>, count: Int, buffers: [UnsafeMutableRawBufferPointer]) {
    for buffer in buffers {
        cmariadb_wipe(buffer.baseAddress, buffer.count)
        buffer.deallocate()
    }
    binds.deinitialize(count: count)
    binds.deallocate()
}
