/// An attempt that ended without an answer the client can have. What the upstream may already have done decides
/// whether another key may try: a request it never got is always safe to send again; one it got in full may have
/// been processed (and billed).
public enum TransportFailure: Sendable, Equatable {
    /// Connect error or connect timeout, refused, TLS handshake failure: the upstream never got the request.
    case notSent(timedOut: Bool)
    /// No answer head: the read timed out or the connection closed. `requestFullySent` says whether the upstream
    /// had the whole request.
    case noAnswer(requestFullySent: Bool, timedOut: Bool)
    /// A 2xx head came but its body broke off before anything reached the client: the upstream did the work.
    case answerBrokeOff(received: Int, declared: Int, timedOut: Bool)

    var timedOut: Bool {
        switch self {
        case .notSent(let timedOut), .noAnswer(_, let timedOut), .answerBrokeOff(_, _, let timedOut): return timedOut
        }
    }

    /// Whether the upstream may have processed the request and may still be at it: a read timeout after the whole
    /// request was sent, or an answer that stalled. A connection closed without an answer, or an answer that broke off,
    /// is the upstream saying it failed: another key may try (a short answer is never passed on as a 200).
    var mayHaveBeenProcessed: Bool {
        switch self {
        case .notSent: return false
        case .noAnswer(let requestFullySent, let timedOut): return requestFullySent && timedOut
        case .answerBrokeOff(_, _, let timedOut): return timedOut
        }
    }

    var description: String {
        switch self {
        case .notSent(true): return "upstream connect timed out"
        case .notSent(false): return "upstream unreachable"
        case .noAnswer(_, true): return "upstream did not answer in time"
        case .noAnswer(_, false): return "upstream closed the connection without answering"
        case .answerBrokeOff(let received, let declared, _): return "answer broke off after \(received) of \(declared) bytes"
        }
    }
}
