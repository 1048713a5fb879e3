/// The column names of one result set, shared by all its rows so a large result indexes names once.
public final class SQLColumns: Sendable {
    public let names: [String]
    private let indexByName: [String: Int]

    public init(_ names: [String]) {
        self.names = names
        // The first occurrence wins when a query returns two columns with one name.
        self.indexByName = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func index(of name: String) -> Int? { indexByName[name] }
}
