import Foundation

/// A safetensors file that cannot be read or written. Always names the file, and the tensor when
/// one is at fault, so a bad checkpoint can be found without a debugger.
public struct SafetensorsError: Error, CustomStringConvertible, LocalizedError {
    public let file: String
    public let key: String?
    public let reason: String

    public init(file: String, key: String? = nil, _ reason: String) {
        self.file = file
        self.key = key
        self.reason = reason
    }

    public var description: String {
        if let key { return "safetensors \(file): tensor '\(key)': \(reason)" }
        return "safetensors \(file): \(reason)"
    }
    public var errorDescription: String? { description }
}

/// A checkpoint directory operation that failed: names the path and what was being done.
public struct CheckpointError: Error, CustomStringConvertible, LocalizedError {
    public let path: String
    public let reason: String

    public init(path: String, _ reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "checkpoint \(path): \(reason)" }
    public var errorDescription: String? { description }
}

/// The text of the current `errno`.
func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
