import Foundation

/// Certificates made with `openssl` at test time, in a fresh temporary directory: a private CA, a server certificate
/// it signed for one host name, a client certificate it signed, and a second CA that signed nothing here (the
/// "wrong CA"). EC P-256 keys, valid two days.
public struct TestCertificates: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let directory: String
    /// The name the server certificate holds (as a DNS subject alternative name).
    public let serverName: String

    public var caFile: String { directory + "/ca.pem" }
    /// A CA that signed neither certificate: trusting only it must refuse the server.
    public var otherCAFile: String { directory + "/other-ca.pem" }
    public var serverCertificateFile: String { directory + "/server.pem" }
    public var serverKeyFile: String { directory + "/server.key" }
    public var clientCertificateFile: String { directory + "/client.pem" }
    public var clientKeyFile: String { directory + "/client.key" }

    public static var isAvailable: Bool { ManagedProcess.findExecutable("openssl") != nil }

    /// Makes the files; `serverName` is the host name clients must use (`localhost` reaches loopback).
    public static func make(serverName: String = "localhost") throws -> TestCertificates {
        guard let openssl = ManagedProcess.findExecutable("openssl") else {
            throw Failure(description: "openssl not found (install the openssl package)")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("test-certs-\(UUID().uuidString.prefix(8))").path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw Failure(description: "cannot create \(directory): \(error)")
        }
        TemporaryDirectoryCleanup.shared.removeAtExit(directory)
        func run(_ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: openssl)
            process.arguments = arguments
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw Failure(description: "openssl \(arguments.joined(separator: " ")) failed") }
        }
        let newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for ca in ["ca", "other-ca"] {
            try run(["req", "-x509"] + newKey + ["-keyout", "\(ca).key", "-out", "\(ca).pem", "-days", "2", "-subj", "/CN=rotator test \(ca)"])
        }
        for (file, name, usage) in [("server", serverName, "serverAuth"), ("client", "rotator-client", "clientAuth")] {
            try run(["req"] + newKey + ["-keyout", "\(file).key", "-out", "\(file).csr", "-subj", "/CN=\(name)"])
            try "subjectAltName=DNS:\(name)\nbasicConstraints=CA:FALSE\nextendedKeyUsage=\(usage)\n"
                .write(toFile: "\(directory)/\(file).ext", atomically: true, encoding: .utf8)
            try run(["x509", "-req", "-in", "\(file).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "\(file).pem",
                     "-days", "2", "-extfile", "\(file).ext"])
        }
        return TestCertificates(directory: directory, serverName: serverName)
    }
}
