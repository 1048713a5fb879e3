import Foundation
import MockUpstream
import NIOSSL
import Testing

/// https upstreams: certificates made at test time with openssl (a private CA, a server certificate for `localhost`
/// and one for another name). The proxy verifies the chain and the host name; a failure is a clear 502 in the
/// client's format, never a silent downgrade.
@Suite struct TLSUpstreamTests {
    /// A CA and two server certificates it signed, in a temporary folder.
    struct Certificates {
        let directory: String
        var caFile: String { directory + "/ca.pem" }

        static func make() throws -> Certificates {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rotator-tls-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            func openssl(_ arguments: [String]) throws {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = ["openssl"] + arguments
                process.currentDirectoryURL = URL(fileURLWithPath: directory)
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                process.waitUntilExit()
                guard process.terminationStatus == 0 else { throw CertificateError.opensslFailed(arguments.joined(separator: " ")) }
            }
            try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                         "-subj", "/CN=Rotator Test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
            for name in ["localhost", "wrong.example"] {
                try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(name)"])
                try "subjectAltName=DNS:\(name)\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n".write(
                    toFile: directory + "/\(name).ext", atomically: true, encoding: .utf8)
                try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "\(name).pem",
                             "-days", "2", "-extfile", "\(name).ext"])
            }
            return Certificates(directory: directory)
        }

        func serverConfiguration(for name: String) throws -> TLSConfiguration {
            TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(directory + "/\(name).pem").map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: directory + "/\(name).key", format: .pem))
            )
        }
    }

    enum CertificateError: Error {
        case opensslFailed(String)
    }

    @Test func verifiedUpstreamServesAndBadCertificatesAreA502() async throws {
        let certificates = try Certificates.make()
        defer { try? FileManager.default.removeItem(atPath: certificates.directory) }
        let state = MockUpstreamState()
        try await MockUpstreamServer.start(state: state, tls: try certificates.serverConfiguration(for: "localhost")).whileRunning { trusted in
        try await MockUpstreamServer.start(state: state, tls: try certificates.serverConfiguration(for: "wrong.example")).whileRunning { misnamed in
        try await withRunningNode(environment: ["UPSTREAM_CA_FILE": certificates.caFile]) { node in
        try await withRunningNode { untrustingNode in
            // Host names, not 127.0.0.1: the certificate names a host.
            let good = try await node.createConfig(slug: "tls", base: "https://localhost:\(trusted.port)/v1")
            try await node.addKeys(configID: good, sampleKeys(2))
            let served = try await node.proxy("tls")
            #expect(served.status == 200, "\(served.text)")
            #expect(try served.object()["object"] as? String == "chat.completion")
            let again = try await node.proxy("tls")
            #expect(again.status == 200, "a kept-alive TLS connection serves the next request")
            // "Check now" trusts what the relay trusts.
            let goodKey = try #require(try await node.keys(configID: good).first?["id"] as? Int)
            let checked = try await node.admin(.POST, "/admin/keys/\(goodKey)/check").object()
            #expect(checked["outcome"] as? String == "ok", "\(checked)")

            let wrongName = try await node.createConfig(slug: "tls-wrong-name", base: "https://localhost:\(misnamed.port)/v1")
            try await node.addKeys(configID: wrongName, sampleKeys(2, prefix: "sk-wrong"))
            let refusedName = try await node.proxy("tls-wrong-name")
            #expect(refusedName.status == 502, "\(refusedName.text)")
            let nameError = try #require(try refusedName.object()["error"] as? [String: Any])
            #expect((nameError["message"] as? String)?.contains("TLS certificate") == true, "\(refusedName.text)")
            #expect(nameError["type"] as? String == "server_error", "in the OpenAI client's error shape (OpenAI's own type for server trouble)")

            let untrusted = try await untrustingNode.createConfig(slug: "tls-untrusted", base: "https://localhost:\(trusted.port)/v1")
            try await untrustingNode.addKeys(configID: untrusted, sampleKeys(2))
            let refusedChain = try await untrustingNode.proxy("tls-untrusted")
            #expect(refusedChain.status == 502, "a certificate from an unknown CA is refused: \(refusedChain.text)")
            #expect(refusedChain.text.contains("TLS certificate"))
            let untrustedKey = try #require(try await untrustingNode.keys(configID: untrusted).first?["id"] as? Int)
            let refusedCheck = try await untrustingNode.admin(.POST, "/admin/keys/\(untrustedKey)/check").object()
            #expect(refusedCheck["outcome"] as? String != "ok", "a check refuses an unknown CA too: \(refusedCheck)")
        }
        }
        }
        }
    }
}
