/// An optional field the admin API writes as `null` when it is nil. Synthesized `Encodable` leaves a nil optional
/// out; clients read a fixed shape, so every optional of a view is wrapped in this instead of each view spelling
/// its encoding out by hand.
@propertyWrapper
struct ExplicitNull<Value: Encodable>: Encodable {
    var wrappedValue: Value?

    init(wrappedValue: Value?) {
        self.wrappedValue = wrappedValue
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue {
            try container.encode(wrappedValue)
        } else {
            try container.encodeNil()
        }
    }
}

extension ExplicitNull: Sendable where Value: Sendable {}
