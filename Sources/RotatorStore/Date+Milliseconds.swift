#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// Timestamps are stored as integer unix milliseconds: the same in SQLite and MySQL, and sortable.
extension Date {
    init(millisecondsSince1970 milliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    var millisecondsSince1970: Int64 {
        Int64((timeIntervalSince1970 * 1000).rounded())
    }
}
