import CMariaDB
import RotatorSQL

/// libmariadb's process-wide initialisation, done once before the first `mysql_init`.
///
/// `mysql_init` would do it implicitly, but not thread-safely: two pool threads connecting at once could both
/// run it. A Swift global is initialised exactly once (`swift_once`), whichever thread gets there first.
/// (`mysql_thread_init` is a no-op in Connector/C 3, so pool threads need nothing of their own.)
enum MariaDBLibrary {
    private static let initialised: Bool = mysql_server_init(0, nil, nil) == 0

    static func ensureInitialised() throws {
        guard initialised else {
            throw SQLError(.unavailable, "libmariadb failed to initialise")
        }
    }
}
