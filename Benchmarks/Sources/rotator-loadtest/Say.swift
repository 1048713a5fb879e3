import Foundation

/// Prints a line at once, also into a pipe or a log file (CI), where `print` would hold it in a buffer until exit.
func say(_ text: String) {
    try? FileHandle.standardOutput.write(contentsOf: Data((text + "\n").utf8))
}
