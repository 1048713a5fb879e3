/// A value that holds secrets (passwords, keys, signing secrets) and prints without them: `description`,
/// `debugDescription`, string interpolation and reflection (`dump`, `Mirror`) all show `redactedFields`,
/// in which every secret is a `RedactedSecret`.
///
/// Swift's default rendering of a struct lists every stored property, so one `"\(settings)"` in a log line
/// or an error message would publish them; conforming types opt out of it as a whole.
public protocol SecretRedacting: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The fields to show, in declaration order; secrets as `RedactedSecret`.
    var redactedFields: [(label: String, value: Any)] { get }
}

extension SecretRedacting {
    public var description: String {
        let fields = redactedFields.map { "\($0.label): \(Self.render($0.value))" }
        return "\(Self.self)(\(fields.joined(separator: ", ")))"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: redactedFields.map { (label: Optional($0.label), value: $0.value) }, displayStyle: .struct)
    }

    private static func render(_ value: Any) -> String {
        switch value {
        case let text as String: return String(reflecting: text)
        default: return String(describing: value)
        }
    }
}

/// Stands in for a secret wherever a value is printed: says whether it is set, never what it is.
public struct RedactedSecret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let isSet: Bool

    /// For a secret that is always present.
    public static let present = RedactedSecret(isSet: true)

    public init(isSet: Bool) {
        self.isSet = isSet
    }

    /// For an optional secret: shows whether it was given.
    public init(_ secret: (some Any)?) {
        self.isSet = secret != nil
    }

    public var description: String { isSet ? "<redacted>" : "<unset>" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
