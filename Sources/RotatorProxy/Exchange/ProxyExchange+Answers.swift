import FormatConversion
import NIOCore
import NIOHTTP1
import UpstreamProviders
import RotatorCore

/// The body work of the current answer: the key's scrubber, the plan (scrubbed? decoded?), a stream's scrubbing and
/// its decoder.
struct AnswerReading {
    /// Removes the key of the current attempt from whatever goes back to the client.
    var scrubber: SecretScrubber?
    var plan: AnswerBodyPlan?
    var streamScrubber: StreamingSecretScrubber?
    var inflater: BodyInflater?

    /// A new answer's head: its decoder, if it needs one (one that cannot be made leaves the body unreadable).
    mutating func startAnswer(plan: inout AnswerBodyPlan) {
        streamScrubber = nil
        inflater = nil
        if plan.coding == .inflate {
            if let decoder = try? BodyInflater() { inflater = decoder } else { plan.coding = .unreadable("gzip") }
        }
        self.plan = plan
    }

    /// An error body's part, decoded (only called while there is room: a compressed error body never inflates past it).
    func decodeWithinLimit(_ part: ByteBuffer) -> ByteBuffer {
        inflater.map { (try? $0.inflate(part)) ?? ByteBuffer() } ?? part
    }

    /// Whether a decoded body ended cleanly (true when nothing is decoded).
    func finishDecoding() -> Bool {
        guard let inflater else { return true }
        return (try? inflater.finish()) != nil
    }
}

/// Writing the client's answer: the proxy's own, the upstream's read whole, or a stream part by part.
extension ProxyExchange {
    /// The `Origin` to allow in the answer's CORS headers, when it is on `CORS_ALLOWED_ORIGINS`.
    func allowedOrigin() -> String? {
        let allowed = service.settings.corsAllowedOrigins
        guard !allowed.isEmpty, let origin = head.headers.first(name: "origin"), allowed.contains(origin) || allowed.contains("*") else { return nil }
        return origin
    }

    /// The client's address for the wrong-key throttle: the peer, or the `X-Forwarded-For` hop `TRUSTED_PROXIES` vouch for.
    func clientAddress() -> String {
        service.settings.clientAddresses.clientAddress(
            peer: context.channel.remoteAddress?.ipAddress, forwardedFor: head.headers[canonicalForm: "x-forwarded-for"].map(String.init)
        )
    }

    /// What the body's `api_key` holds: a proxy key (compared in constant time) or a client key (by its keyed hash), and
    /// the body without it. A client key authenticates only a request whose head carried no key; it must be allowed on
    /// this config, and a refused one gets the 401 saying why. Behind a head that already authenticated, a client key's
    /// secret is only stripped.
    func bodyKey(_ body: ByteBuffer) -> ExchangeStateMachine.BodyKey {
        guard let extracted = ClientCredential.extractBodyAPIKey(from: body) else { return .missing }
        if ConstantTime.matchesAny(extracted.key, of: service.settings.proxyKeys) { return .valid(extracted.body) }
        let identity = service.clientKeys.identify(secret: extracted.key)
        guard let admission, admission.credential == .expectedInBody else {
            switch identity {
            case .unknown: return .missing
            case .key: return .valid(extracted.body)
            case .refused(let reason):
                // Refused whatever the body holds (the slug): a known client key's refusal says why.
                return admission == nil ? .refused(ProxyRequestGate.refusedClientKey(reason, format: ProxyRequestGate.requestDialect(head: head, route: route)))
                    : .valid(extracted.body)
            }
        }
        switch identity {
        case .unknown:
            return .missing
        case .refused(let reason):
            return .refused(ProxyRequestGate.refusedClientKey(reason, format: admission.format))
        case .key(let key):
            let slug = admission.pool.config.slug
            guard key.allows(config: slug) else { return .refused(ProxyRequestGate.configNotAllowed(key, slug: slug, format: admission.format)) }
            clientKey = key
            return .valid(extracted.body)
        }
    }

    /// A browser's CORS preflight from an allowed origin (`CORS_ALLOWED_ORIGINS`).
    func answerPreflight(origin: String) {
        var headers = HTTPHeaders()
        headers.add(name: "Access-Control-Allow-Methods", value: "GET, POST, PUT, PATCH, DELETE, OPTIONS")
        headers.add(name: "Access-Control-Allow-Headers", value: head.headers.first(name: "access-control-request-headers") ?? "Authorization, Content-Type")
        headers.add(name: "Access-Control-Max-Age", value: "600")
        headers.add(name: "Content-Length", value: "0")
        addOwnHeaders(&headers)
        writeWhole(status: .noContent, headers: headers, body: ByteBuffer())
    }

    func write(_ answer: ExchangeStateMachine.Answer) {
        switch answer {
        case .refusal(let reason):
            let refusal: ProxyRequestGate.Refusal
            var retryAfter: Int?
            switch reason {
            case .given(let given): refusal = given
            case .unauthorized: refusal = ProxyRequestGate.unauthorized(head: head, route: route)
            case .tooLarge(let limit): refusal = ProxyRequestGate.tooLarge(limit, format: admission?.format)
            case .tooLargeForBodyKey(let limit):
                refusal = ProxyRequestGate.tooLargeForBodyKey(limit, format: ProxyRequestGate.requestDialect(head: head, route: route))
            case .quota(let limit, let value, let frees):
                refusal = ProxyRequestGate.quotaRefusal(keyName: clientKey?.name ?? "", limit: limit, value: value, retryAfter: frees,
                                                        format: admission?.format)
                retryAfter = frees.map { max(Int($0.rounded(.up)), 1) }
            }
            if refusal.status == .unauthorized, refusal.countsAsWrongKey { service.wrongKeys.recordWrongKey(address: clientAddress()) }
            writeError(status: refusal.status, kind: refusal.kind, message: refusal.message, format: refusal.format, extraHeaders: refusal.extraHeaders,
                       presetBody: refusal.body, retryAfter: retryAfter)
        case .failure(let failure):
            if failure.status == 429, failure.kind == .rateLimited { slugMetrics.allKeysCooling.increment() }
            writeError(status: HTTPResponseStatus(statusCode: failure.status), kind: failure.kind, message: failure.message,
                       format: admission?.format, extraHeaders: failure.retryAfter.map { [("Retry-After", String($0))] } ?? [],
                       retryAfter: failure.retryAfter)
        case .upstream(let status, let upstreamHeaders, let rawBody, let limit):
            // An error answer passed on is scrubbed of the key it was sent with, headers and body; then cut to its limit
            // (read past it by the key's longest form, so a key across the cut is scrubbed whole).
            var body = reading.scrubber?.scrub(rawBody) ?? rawBody
            if body.readableBytes > limit { body = body.getSlice(at: body.readerIndex, length: limit) ?? body }
            // Judged on the upstream's raw answer; a converted request's client gets it in its own format.
            if let conversion { return writeConverted(conversion.convertWhole(status: status, headers: upstreamHeaders, body: body)) }
            var headers = HeaderPolicy.clientHeaders(from: upstreamHeaders, keepContentLength: false, scrubbing: reading.scrubber, room: ownHeaderRoom)
            headers.replaceOrAdd(name: "Content-Length", value: String(body.readableBytes))
            addOwnHeaders(&headers)
            writeWhole(status: HTTPResponseStatus(statusCode: status), headers: headers, body: body)
        case .whole(let status, let answerHeaders, let collected):
            var headers = HeaderPolicy.clientHeaders(from: answerHeaders, keepContentLength: true, scrubbing: reading.scrubber, room: ownHeaderRoom)
            addOwnHeaders(&headers)
            let body = reading.plan?.scrubs == true ? reading.scrubber?.scrub(collected) ?? collected : collected
            if var tap = passThroughTap(status: status) {
                tap.feed(body)
                recordUsage(tap.usage)
            }
            writeWhole(status: HTTPResponseStatus(statusCode: status), headers: headers, body: body)
        case .unreadable(let encoding):
            // An answer in an encoding the relay cannot check for keys never reaches the client: a 502 instead.
            writeError(status: .badGateway, kind: .upstreamUnavailable, message: AnswerBodyPlan.unreadableMessage(encoding), format: admission?.format,
                       extraHeaders: [])
        case .requestTimeout(let message):
            writeError(status: .requestTimeout, kind: .requestTimeout, message: message, format: admission?.format, extraHeaders: [])
        }
    }

    private func writeError(
        status: HTTPResponseStatus, kind: ClientErrorShape.Kind, message: String, format: APIFormat?, extraHeaders: [(String, String)],
        presetBody: [UInt8]? = nil, retryAfter: Int? = nil
    ) {
        let body = presetBody.map { ByteBuffer(bytes: $0) }
            ?? ClientErrorShape.body(kind: kind, status: Int(status.code), message: message, format: format, retryAfter: retryAfter)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        for (name, value) in extraHeaders { headers.add(name: name, value: value) }
        addOwnHeaders(&headers)
        writeWhole(status: status, headers: headers, body: body)
    }

    /// A converted answer (or the 400 for a client body that could not be converted), in the client's format.
    func writeConverted(_ answer: ClientAnswer) {
        recordUsage(answer.usage)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: answer.contentType)
        headers.add(name: "Content-Length", value: String(answer.body.count))
        if let retryAfter = answer.retryAfter { headers.add(name: "Retry-After", value: retryAfter) }
        addOwnHeaders(&headers)
        writeWhole(status: HTTPResponseStatus(statusCode: answer.status), headers: headers, body: context.channel.allocator.buffer(bytes: answer.body))
    }

    /// A tap for a successful LLM answer passed through as the upstream wrote it (converted answers are read by their
    /// conversion; generic configs report no tokens).
    func passThroughTap(status: Int) -> UsageTap? {
        guard conversion == nil, route.kind == .llm, (200..<300).contains(status), let format = admission?.pool.config.apiFormat else { return nil }
        return UsageTap(dialect: UsageTap.Dialect(format))
    }

    /// Adds the tokens an answer reported (converted or passed through) to the config's counters and to the serving
    /// key's usage, once.
    func recordUsage(_ usage: TokenUsage?) {
        guard let usage, machine.countsUsage() else { return }
        answerUsage = usage
        if conversion != nil {
            slugMetrics.convertedInputTokens.increment(by: Int64(usage.inputTokens))
            slugMetrics.convertedOutputTokens.increment(by: Int64(usage.outputTokens))
        }
        slugMetrics.inputTokens.increment(by: Int64(usage.inputTokens))
        slugMetrics.outputTokens.increment(by: Int64(usage.outputTokens))
        slugMetrics.cachedTokens.increment(by: Int64(usage.cachedTokens))
        if let key = machine.keys?.currentKey {
            service.coordinator.recordTokens(key: key, input: Int64(usage.inputTokens), output: Int64(usage.outputTokens))
        }
    }

    /// At most how many headers `addOwnHeaders` adds (three per limit of a client key).
    private var ownHeaderRoom: Int { 4 + 3 * quotaStates.count }

    private func addOwnHeaders(_ headers: inout HTTPHeaders) {
        headers.add(name: "X-Request-ID", value: requestID)
        if !quotaStates.isEmpty { ClientKeyHeaders.add(quotaStates, to: &headers) }
        if let corsOrigin {
            headers.replaceOrAdd(name: "Access-Control-Allow-Origin", value: corsOrigin)
            headers.add(name: "Vary", value: "Origin")
        }
        if machine.closesConnection { headers.replaceOrAdd(name: "Connection", value: "close") }
    }

    /// Head, body and end in one flush: a small answer leaves in one write.
    private func writeWhole(status: HTTPResponseStatus, headers: HTTPHeaders, body: ByteBuffer) {
        machine.answered(status: Int(status.code), now: now)
        context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if body.readableBytes > 0, head.method != .HEAD {
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil)
        }
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
    }

    // MARK: Streams

    /// A stream's head, held until its first body bytes or the end of the read (see `ExchangeStateMachine.holdStreamHead`).
    func startStream(status: Int, headers answerHeaders: HTTPHeaders) {
        // Scrubbing keeps every length: a declared `Content-Length` stays true.
        reading.streamScrubber = reading.plan?.scrubs == true ? reading.scrubber.map(StreamingSecretScrubber.init) : nil
        usageTap = passThroughTap(status: status)
        var headers = HeaderPolicy.clientHeaders(
            from: answerHeaders, keepContentLength: answerHeaders.contains(name: "content-length") && conversion == nil, scrubbing: reading.scrubber,
            room: ownHeaderRoom
        )
        if let contentType = conversion?.startStream() {
            // The converted stream's bytes differ from the upstream's: its length and encoding are not ours.
            headers.remove(name: "content-encoding")
            headers.replaceOrAdd(name: "Content-Type", value: contentType)
        }
        addOwnHeaders(&headers)
        machine.holdStreamHead(HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: status), headers: headers))
    }

    /// A streamed part as the client may read it: decoded, scrubbed (some bytes may wait for the next part), converted.
    func relay(_ part: ByteBuffer) {
        var chunk = part
        if let inflater = reading.inflater {
            guard let decoded = try? inflater.inflate(part) else {
                return run(machine.streamBroke(because: "the upstream's compressed answer could not be decoded"))
            }
            chunk = decoded
        }
        if reading.streamScrubber != nil { chunk = reading.streamScrubber!.feed(chunk) }
        guard chunk.readableBytes > 0 else { return }
        if usageTap != nil { usageTap!.feed(chunk) }
        writeHeldHead()
        if conversion != nil {
            // Each upstream event converted as soon as it is complete; a part that completes none writes nothing.
            if let converted = conversion?.feed(chunk), !converted.isEmpty {
                context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(context.channel.allocator.buffer(bytes: converted)))), promise: nil)
            }
        } else {
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(chunk))), promise: nil)
        }
        if !context.channel.isWritable {
            context.flush()
            followClientWritability()
        }
    }

    /// The stream's end: what the scrubber held back, a converted stream's closing events, then the end.
    func endStream() {
        writeHeldHead()
        if var rest = reading.streamScrubber?.finish(), rest.readableBytes > 0 {
            if usageTap != nil { usageTap!.feed(rest) }
            if conversion != nil, let converted = conversion?.feed(rest), !converted.isEmpty {
                rest = context.channel.allocator.buffer(bytes: converted)
            }
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(rest))), promise: nil)
        }
        if let closing = conversion?.finishStream(), !closing.isEmpty {
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(context.channel.allocator.buffer(bytes: closing)))), promise: nil)
        }
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
    }

    /// Writes the streamed answer's head, if it is still held.
    func writeHeldHead() {
        guard let held = machine.takeHeldHead() else { return }
        context.write(NIOAny(HTTPServerResponsePart.head(held)), promise: nil)
    }
}
