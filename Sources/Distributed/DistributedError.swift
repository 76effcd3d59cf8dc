/// A collective or set-up call that failed: names the call, the rank and MPI's own explanation.
public struct DistributedError: Error, CustomStringConvertible {
    public let call: String
    public let rank: Int
    public let reason: String

    public init(call: String, rank: Int, _ reason: String) {
        self.call = call
        self.rank = rank
        self.reason = reason
    }

    public var description: String { "rank \(rank): \(call) failed: \(reason)" }
}
