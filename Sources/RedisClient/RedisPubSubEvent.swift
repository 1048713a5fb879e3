/// What a channel subscription reports, in order.
public enum RedisPubSubEvent: Sendable, Equatable {
    /// Redis confirmed the subscription for the first time.
    case subscribed
    /// Redis confirmed the subscription again after the connection had been lost. Messages published during
    /// the gap are gone (pub/sub is fire-and-forget): drop everything derived from them, e.g. a whole cache.
    /// Sent only after the subscription is live again, so nothing published after it is missed.
    case resubscribed
    /// The subscription's connection was lost; reconnecting with backoff.
    case disconnected
    /// A published message's payload.
    case message([UInt8])
}
