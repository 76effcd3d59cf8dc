import Foundation

/// An error in input or output data, naming the file (and, where it helps, the key or sample)
/// so a failing conversion or load can be traced to the one thing to fix.
public struct DataError: Error, CustomStringConvertible, LocalizedError, Sendable {
    public let file: String
    public let message: String

    public init(_ file: String, _ message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
    public var errorDescription: String? { description }
}
