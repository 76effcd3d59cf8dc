import Foundation

public enum SynthesisError: Error, CustomStringConvertible {
    case invalidArgument(String)
    case io(String)

    public var description: String {
        switch self {
        case .invalidArgument(let s): return "invalid argument: \(s)"
        case .io(let s): return "I/O error: \(s)"
        }
    }
}
