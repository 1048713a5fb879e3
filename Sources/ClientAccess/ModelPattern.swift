/// An entry of a client key's model allow-list: an exact model name, or a prefix written `name*` (the only place a
/// `*` may stand).
public enum ModelPattern: Sendable, Equatable, Hashable, CustomStringConvertible {
    case exact(String)
    case prefix(String)

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    public init(parsing text: String) throws(Invalid) {
        guard !text.isEmpty else { throw Invalid(description: "a model pattern may not be empty") }
        guard text.utf8.count <= 200 else { throw Invalid(description: "a model pattern may be at most 200 bytes long") }
        if let star = text.firstIndex(of: "*") {
            guard text.index(after: star) == text.endIndex else {
                throw Invalid(description: "'\(text)': '*' may only end a model pattern (a prefix, e.g. 'gpt-4o*')")
            }
            self = .prefix(String(text[..<star]))
        } else {
            self = .exact(text)
        }
    }

    public func matches(_ model: String) -> Bool {
        switch self {
        case .exact(let name): model == name
        case .prefix(let prefix): model.hasPrefix(prefix)
        }
    }

    /// As the operator wrote it.
    public var description: String {
        switch self {
        case .exact(let name): name
        case .prefix(let prefix): prefix + "*"
        }
    }
}
