import Foundation
import RotatorCore

/// Who may read `/metrics`: anyone when `METRICS_TOKEN` is unset; otherwise only a request with
/// `Authorization: Bearer <METRICS_TOKEN>`, compared in constant time (the metrics list every slug).
struct MetricsAccess: Sendable {
    let token: String?

    func allows(authorization: String?) -> Bool {
        guard let token else { return true }
        guard let authorization, authorization.utf8.count > 7, authorization.prefix(7).lowercased() == "bearer " else { return false }
        return ConstantTime.equals(String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces), token)
    }
}
