import Foundation
import NIOCore
import Synchronization

/// A client key's limits enforced in this process alone (the default node, and an enterprise node while Redis is away).
///
/// The semantics, the same as `RedisClientQuota`'s script (one behaviour suite runs against both):
/// - `rpm`: admissions in any 60 s, a rolling log of admission times (an admission 60 s old no longer counts; one 59 s
///   old does). `daily_requests` / `monthly_requests`: admissions in the UTC day / UTC month of their admission time.
/// - `max_concurrent`: leases held at once; a lease ends at `settle`/`release`, or by itself `QuotaLease.seconds` after
///   admission or its last `renew` (a renewal never revives a lease that already ended).
/// - Tokens: a request is admitted while the window's tokens (settled usage plus the reservations of requests in flight)
///   are below the limit. Each request's tokens count at its admission time: in `tpm` while that time is within the last
///   60 s, in `daily_tokens` / `monthly_tokens` in its UTC day / month. `settle` replaces the reservation with the tokens
///   used (in those same windows); a reservation never settled (a dead node) stays counted as used.
/// - `release` gives back everything the admission took: its request slots, its lease, its reservation.
/// - Refusal: the first full limit in `QuotaLimit.allCases` order. `retryAfter`: rpm, when the oldest counted admission
///   is 60 s old; tpm, when enough of the oldest tokens have left the window to bring it below the limit; concurrency,
///   `QuotaRetry.concurrency` (1 s) or the soonest lease expiry if sooner; a day's budget, the next UTC midnight; a
///   month's, the next month's first midnight, nil when that is more than a day away.
/// - `states`: every configured limit's value, what remains, and its reset seconds (rolling windows: when the oldest
///   counted entry leaves; concurrency: the soonest lease expiry; calendar windows: when the day or month ends).
///
/// Memory stays bounded: windows are pruned as they are used, and every minute (of the quota's clock) the keys left
/// with nothing counted in a live window are forgotten. One mutex, never held across an await.
public final class InMemoryClientQuota: ClientQuota {
    private let state = Mutex(State())
    private let clock: @Sendable () -> Double

    /// - Parameter clock: Unix seconds (tests move it by hand).
    public init(clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.clock = clock
    }

    public func admitImmediately(_ request: QuotaRequest) -> QuotaDecision? {
        admit(request, at: clock())
    }

    public func admit(_ request: QuotaRequest, on eventLoop: any EventLoop) -> EventLoopFuture<QuotaDecision> {
        eventLoop.makeSucceededFuture(admit(request, at: clock()))
    }

    public func settle(_ ticket: QuotaTicket, usedTokens: Int64, on eventLoop: any EventLoop) {
        settle(ticket, usedTokens: usedTokens)
    }

    public func release(_ ticket: QuotaTicket, on eventLoop: any EventLoop) {
        release(ticket)
    }

    public func renew(_ ticket: QuotaTicket, on eventLoop: any EventLoop) {
        renew(ticket)
    }

    public func states(clientKey: Int64, limits: ClientKeyLimits) async -> [LimitState] {
        currentStates(clientKey: clientKey, limits: limits)
    }

    // MARK: Synchronous forms (the Redis quota's fallback calls these)

    public func admit(_ request: QuotaRequest, at now: Double) -> QuotaDecision {
        let limits = request.limits
        guard !limits.isEmpty else { return .admitted(QuotaTicket(request: request, admittedAt: now), states: []) }
        return state.withLock { state in
            let calendar = state.calendar(at: now)
            state.sweepIfDue(now: now, calendar: calendar)
            let windows = state.windows(request.clientKey)
            windows.prune(now: now, calendar: calendar)
            if let refusal = windows.refusal(limits, now: now, calendar: calendar) {
                return .refused(limit: refusal.limit, value: refusal.value, retryAfter: refusal.retryAfter,
                                states: windows.states(limits, now: now, calendar: calendar))
            }
            state.lastSerial += 1
            let ticket = QuotaTicket(request: request, admittedAt: now, serial: state.lastSerial)
            windows.take(ticket)
            return .admitted(ticket, states: windows.states(limits, now: now, calendar: calendar))
        }
    }

    public func settle(_ ticket: QuotaTicket, usedTokens: Int64) {
        guard ticket.settleChangesSomething else { return }
        state.withLock { state in
            state.clients[ticket.request.clientKey]?.give(back: ticket, settlingWith: max(usedTokens, 0))
        }
    }

    public func release(_ ticket: QuotaTicket) {
        state.withLock { state in
            state.clients[ticket.request.clientKey]?.give(back: ticket, settlingWith: nil)
        }
    }

    public func renew(_ ticket: QuotaTicket) {
        let now = clock()
        state.withLock { state in
            guard let windows = state.clients[ticket.request.clientKey], let expiry = windows.leases[ticket.serial], expiry > now else { return }
            windows.leases[ticket.serial] = now + QuotaLease.seconds
        }
    }

    public func currentStates(clientKey: Int64, limits: ClientKeyLimits) -> [LimitState] {
        let now = clock()
        let calendar = QuotaCalendar(at: now)
        return state.withLock { state in
            guard let windows = state.clients[clientKey] else { return Windows().states(limits, now: now, calendar: calendar) }
            windows.prune(now: now, calendar: calendar)
            return windows.states(limits, now: now, calendar: calendar)
        }
    }

    /// Keys with something counted (tests: memory stays bounded).
    public var trackedKeys: Int { state.withLock { $0.clients.count } }

    // MARK: State

    private struct State {
        var clients: [Int64: Windows] = [:]
        var nextSweep: Double = 0
        /// The last admission's `QuotaTicket.serial`.
        var lastSerial: UInt64 = 0
        /// The last day's calendar (the month arithmetic runs once a day, not per request).
        var cachedCalendar = QuotaCalendar(at: 0)

        mutating func calendar(at now: Double) -> QuotaCalendar {
            if now >= cachedCalendar.nextDay || now < cachedCalendar.nextDay - 86_400 { cachedCalendar = QuotaCalendar(at: now) }
            return cachedCalendar
        }

        mutating func windows(_ id: Int64) -> Windows {
            if let windows = clients[id] { return windows }
            let windows = Windows()
            clients[id] = windows
            return windows
        }

        /// Once a minute: forget the keys with nothing left in any live window.
        mutating func sweepIfDue(now: Double, calendar: QuotaCalendar) {
            guard now >= nextSweep else { return }
            nextSweep = now + 60
            clients = clients.filter { _, windows in
                windows.prune(now: now, calendar: calendar)
                return !windows.isIdle(calendar: calendar)
            }
        }
    }

    /// Plain values (no reference counted lease per entry): a log of a busy key holds a minute of admissions, and entries
    /// that kept a string alive each would keep as many allocations alive with them.
    private struct Admission {
        var time: Double
        /// The admission's `QuotaTicket.serial`: increasing along a log.
        var serial: UInt64
        var tokens: Int64
    }

    /// A rolling window's admissions, oldest first: appended at the end, dropped from the front (a head index, the
    /// array compacted once half of it is dropped), found by serial (a binary search) when given back.
    private struct AdmissionLog {
        var items: [Admission] = []
        var head = 0

        var isEmpty: Bool { head == items.count }
        var count: Int { items.count - head }
        var first: Admission? { head < items.count ? items[head] : nil }
        var entries: ArraySlice<Admission> { items[head...] }

        mutating func append(_ admission: Admission) { items.append(admission) }
        mutating func removeFirst() { head += 1 }

        mutating func compact() {
            if head == items.count {
                items.removeAll(keepingCapacity: items.count < 4096)
                head = 0
            } else if head >= 1024, head * 2 >= items.count {
                items.removeFirst(head)
                head = 0
            }
        }

        func index(ofSerial serial: UInt64) -> Int? {
            var (low, high) = (head, items.count)
            while low < high {
                let middle = (low + high) / 2
                if items[middle].serial < serial { low = middle + 1 } else { high = middle }
            }
            return low < items.count && items[low].serial == serial ? low : nil
        }
    }

    /// One key's windows; a class so its buffers are mutated in place.
    private final class Windows {
        /// rpm: admission times, oldest first.
        var requests = AdmissionLog()
        /// tpm: admissions with their tokens (reserved, then settled), oldest first, and their sum.
        var tokens = AdmissionLog()
        var tokenSum: Int64 = 0
        /// Concurrency: admission serial -> its lease's expiry, and a time no lease expires before (pruned only once it
        /// has passed).
        var leases: [UInt64: Double] = [:]
        var leasesCheckedUntil: Double = .infinity
        var day: Int64 = .min
        var dayRequests: Int64 = 0
        var dayTokens: Int64 = 0
        var month: Int64 = .min
        var monthRequests: Int64 = 0
        var monthTokens: Int64 = 0

        func prune(now: Double, calendar: QuotaCalendar) {
            let start = now - 60
            while let first = requests.first, first.time <= start { requests.removeFirst() }
            while let first = tokens.first, first.time <= start {
                tokenSum -= first.tokens
                tokens.removeFirst()
            }
            requests.compact()
            tokens.compact()
            if now >= leasesCheckedUntil {
                leases = leases.filter { $0.value > now }
                leasesCheckedUntil = leases.values.min() ?? .infinity
            }
            if day != calendar.day { (day, dayRequests, dayTokens) = (calendar.day, 0, 0) }
            if month != calendar.month { (month, monthRequests, monthTokens) = (calendar.month, 0, 0) }
        }

        func isIdle(calendar: QuotaCalendar) -> Bool {
            requests.isEmpty && tokens.isEmpty && leases.isEmpty && dayRequests == 0 && dayTokens == 0 && monthRequests == 0 && monthTokens == 0
        }

        func refusal(_ limits: ClientKeyLimits, now: Double, calendar: QuotaCalendar) -> (limit: QuotaLimit, value: Int64, retryAfter: Double?)? {
            for limit in QuotaLimit.allCases {
                guard let value = limits[limit], used(limit) >= value else { continue }
                return (limit, value, retryAfter(limit, value: value, now: now, calendar: calendar))
            }
            return nil
        }

        func used(_ limit: QuotaLimit) -> Int64 {
            switch limit {
            case .rpm: Int64(requests.count)
            case .tpm: tokenSum
            case .concurrent: Int64(leases.count)
            case .dailyRequests: dayRequests
            case .monthlyRequests: monthRequests
            case .dailyTokens: dayTokens
            case .monthlyTokens: monthTokens
            }
        }

        private func retryAfter(_ limit: QuotaLimit, value: Int64, now: Double, calendar: QuotaCalendar) -> Double? {
            switch limit {
            case .rpm: (requests.first?.time ?? now) + 60 - now
            case .tpm: tokensFree(below: value, now: now)
            case .concurrent: min(QuotaRetry.concurrency, soonestLeaseExpiry(now: now))
            case .dailyRequests, .dailyTokens: calendar.nextDay - now
            case .monthlyRequests, .monthlyTokens: QuotaRetry.calendar(calendar.nextMonth - now)
            }
        }

        /// When the oldest tokens have left the window so that the rest are below `value`.
        private func tokensFree(below value: Int64, now: Double) -> Double {
            var sum = tokenSum
            for entry in tokens.entries {
                sum -= entry.tokens
                if sum < value { return entry.time + 60 - now }
            }
            return 60
        }

        private func soonestLeaseExpiry(now: Double) -> Double {
            (leases.values.min() ?? now) - now
        }

        func take(_ ticket: QuotaTicket) {
            let (limits, now, serial) = (ticket.request.limits, ticket.admittedAt, ticket.serial)
            let reserved = max(ticket.request.reservedTokens, 0)
            if limits.rpm != nil { requests.append(Admission(time: now, serial: serial, tokens: 0)) }
            if limits.tpm != nil {
                tokens.append(Admission(time: now, serial: serial, tokens: reserved))
                tokenSum += reserved
            }
            if limits.maxConcurrent != nil {
                leases[serial] = now + QuotaLease.seconds
                leasesCheckedUntil = min(leasesCheckedUntil, now + QuotaLease.seconds)
            }
            if limits.dailyRequests != nil { dayRequests += 1 }
            if limits.monthlyRequests != nil { monthRequests += 1 }
            if limits.dailyTokens != nil { dayTokens += reserved }
            if limits.monthlyTokens != nil { monthTokens += reserved }
        }

        /// `settlingWith`: the tokens used (settle), or nil to give back the whole admission (release).
        func give(back ticket: QuotaTicket, settlingWith used: Int64?) {
            let request = ticket.request
            let limits = request.limits
            let reserved = max(request.reservedTokens, 0)
            let delta = (used ?? 0) - reserved
            // Admitted today: this month too (the month arithmetic only for an admission of another day).
            let admittedDay = Int64((ticket.admittedAt / 86_400).rounded(.down))
            let admittedMonth = admittedDay == day ? month : QuotaCalendar(at: ticket.admittedAt).month
            if limits.maxConcurrent != nil { leases[ticket.serial] = nil }
            if used == nil, limits.rpm != nil, let index = requests.index(ofSerial: ticket.serial) {
                requests.items.remove(at: index)
            }
            if limits.tpm != nil, let index = tokens.index(ofSerial: ticket.serial) {
                tokenSum += delta
                if used == nil { tokens.items.remove(at: index) } else { tokens.items[index].tokens += delta }
            }
            if day == admittedDay {
                if used == nil, limits.dailyRequests != nil { dayRequests = max(dayRequests - 1, 0) }
                if limits.dailyTokens != nil { dayTokens = max(dayTokens + delta, 0) }
            }
            if month == admittedMonth {
                if used == nil, limits.monthlyRequests != nil { monthRequests = max(monthRequests - 1, 0) }
                if limits.monthlyTokens != nil { monthTokens = max(monthTokens + delta, 0) }
            }
        }

        func states(_ limits: ClientKeyLimits, now: Double, calendar: QuotaCalendar) -> [LimitState] {
            var states: [LimitState] = []
            states.reserveCapacity(QuotaLimit.allCases.count)
            for limit in QuotaLimit.allCases {
                guard let value = limits[limit] else { continue }
                let reset: Double = switch limit {
                case .rpm: requests.first.map { $0.time + 60 - now } ?? 0
                case .tpm: tokens.first.map { $0.time + 60 - now } ?? 0
                case .concurrent: soonestLeaseExpiry(now: now)
                case .dailyRequests, .dailyTokens: calendar.nextDay - now
                case .monthlyRequests, .monthlyTokens: calendar.nextMonth - now
                }
                states.append(LimitState(limit: limit, value: value, remaining: max(value - used(limit), 0), resetSeconds: reset))
            }
            return states
        }
    }
}

extension ClientKeyLimits {
    /// This node's share while it enforces alone (Redis away): each limit divided by the live nodes, rounded down but
    /// never below 1, so the fleet together stays within the limit.
    public func share(ofNodes nodes: Int) -> ClientKeyLimits {
        let nodes = Int64(max(nodes, 1))
        guard nodes > 1 else { return self }
        func part(_ value: Int64?) -> Int64? { value.map { max($0 / nodes, 1) } }
        return ClientKeyLimits(
            rpm: part(rpm), tpm: part(tpm), maxConcurrent: part(maxConcurrent), dailyRequests: part(dailyRequests),
            monthlyRequests: part(monthlyRequests), dailyTokens: part(dailyTokens), monthlyTokens: part(monthlyTokens)
        )
    }
}
