/// An attempt that ended without an answer the client can have, from the upstream connection (which reports it) to
/// the blame (which judges it): the one failure type of the relay's upstream side. What the upstream may already have
/// done decides whether another key may try: a request it never got is always safe to send again; one it got in full
/// may have been processed (and billed).
public enum TransportFailure: Error, Sendable, Equatable {
    /// Connect error or connect timeout, refused: the upstream never got the request.
    case notSent(timedOut: Bool)
    /// The upstream's certificate or host name could not be verified: a setup problem no other key fixes (the request
    /// was never sent).
    case tls(String)
    /// No answer head: the read timed out or the connection closed. `requestFullySent` says whether the upstream
    /// had the whole request.
    case noAnswer(requestFullySent: Bool, timedOut: Bool)
    /// A 2xx head came but its body broke off before anything reached the client: the upstream did the work.
    case answerBrokeOff(received: Int, declared: Int, timedOut: Bool)

    var timedOut: Bool {
        switch self {
        case .notSent(let timedOut), .noAnswer(_, let timedOut), .answerBrokeOff(_, _, let timedOut): return timedOut
        case .tls: return false
        }
    }

    var isTLS: Bool {
        if case .tls = self { return true }
        return false
    }

    /// Whether the upstream may have processed the request and may still be at it: a read timeout after the whole
    /// request was sent, or an answer that stalled. A connection closed without an answer, or an answer that broke off,
    /// is the upstream saying it failed: another key may try (a short answer is never passed on as a 200).
    var mayHaveBeenProcessed: Bool {
        switch self {
        case .notSent, .tls: return false
        case .noAnswer(let requestFullySent, let timedOut): return requestFullySent && timedOut
        case .answerBrokeOff(_, _, let timedOut): return timedOut
        }
    }

    var description: String {
        switch self {
        case .notSent(true): return "upstream connect timed out"
        case .notSent(false): return "upstream unreachable"
        case .tls(let reason): return "upstream TLS failure: \(reason)"
        case .noAnswer(_, true): return "upstream did not answer in time"
        case .noAnswer(_, false): return "upstream closed the connection without answering"
        case .answerBrokeOff(let received, let declared, _): return "answer broke off after \(received) of \(declared) bytes"
        }
    }
}
