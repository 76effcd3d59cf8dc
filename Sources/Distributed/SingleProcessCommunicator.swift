import Foundation

/// A job of one rank: every collective is the identity (the buffer already holds the "sum"),
/// with the same argument checks as MPI so code that is wrong under `mpirun` fails here too.
public final class SingleProcessCommunicator: Communicator, @unchecked Sendable {
    public init() {}

    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var localRank: Int { 0 }
    public var localSize: Int { 1 }
    public var kind: String { "single process" }

    public func barrier() throws {}

    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
        try checkRoot(root, "broadcast")
    }

    public func allreduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {}
    public func allreduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws {}

    public func startAllreduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws -> PendingReduction {
        CompletedReduction()
    }

    public func allgather(_ bytes: UnsafeRawBufferPointer, into gathered: UnsafeMutableRawBufferPointer) throws {
        guard gathered.count == bytes.count else {
            throw DistributedError(call: "allgather", rank: 0, "gathered buffer holds \(gathered.count) bytes, expected \(bytes.count)")
        }
        if let source = bytes.baseAddress, bytes.count > 0 { gathered.baseAddress!.copyMemory(from: source, byteCount: bytes.count) }
    }

    public func agree(_ flag: Bool, _ rule: Agreement) throws -> Bool { flag }

    public func abort(code: Int32, message: String) -> Never {
        FileHandle.standardError.write(Data("rank 0: \(message)\n".utf8))
        exit(code)
    }

    private func checkRoot(_ root: Int, _ call: String) throws {
        if root != 0 { throw DistributedError(call: call, rank: 0, "invalid root \(root) for a job of 1 rank") }
    }
}

/// A reduction that was complete when it was started.
final class CompletedReduction: PendingReduction {
    func test() throws -> Bool { true }
    func wait() throws {}
}
