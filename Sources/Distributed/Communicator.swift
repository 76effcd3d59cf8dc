import Foundation

/// The ranks of a data-parallel job and the collectives training needs. Every collective must be
/// called by every rank, in the same order, with the same sizes: that is MPI's contract, and
/// `SingleProcessCommunicator` keeps the same one so code is written once.
///
/// Failure model: a collective that fails throws a `DistributedError` naming the call and the
/// rank. A rank that cannot continue calls `abort(code:message:)`, which prints
/// "rank R: message" to stderr and makes MPI terminate every rank of the job (`MPI_Abort`);
/// a rank that crashes or exits with a non-zero status likewise makes `mpirun` kill the others,
/// so a job never hangs waiting for a dead peer.
public protocol Communicator: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Rank among the processes on this machine, and how many there are (for sharing cores).
    var localRank: Int { get }
    var localSize: Int { get }
    /// "MPI" or "single process", for logs.
    var kind: String { get }

    func barrier() throws
    /// Copies `root`'s bytes into every other rank's buffer (same byte count everywhere).
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws
    /// In-place elementwise sum over ranks.
    func allreduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws
    func allreduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws
    /// Starts an in-place sum and returns at once; `values` must stay alive and untouched until
    /// the returned reduction completes.
    func startAllreduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws -> PendingReduction
    /// Concatenates every rank's `bytes` (same count everywhere) in rank order into `gathered`.
    func allgather(_ bytes: UnsafeRawBufferPointer, into gathered: UnsafeMutableRawBufferPointer) throws
    /// Logical OR (`.any`) or AND (`.all`) of one flag per rank: how ranks agree to stop or skip.
    func agree(_ flag: Bool, _ rule: Agreement) throws -> Bool
    /// Ends the whole job: prints "rank R: message" to stderr, then terminates every rank.
    func abort(code: Int32, message: String) -> Never
}

public enum Agreement: Sendable { case any, all }

/// A started non-blocking collective.
public protocol PendingReduction: AnyObject {
    /// Whether it has finished; also drives MPI's progress engine, which only advances inside
    /// MPI calls under `MPI_THREAD_FUNNELED`.
    func test() throws -> Bool
    func wait() throws
}

/// The job's communicator: MPI when launched by `mpirun` (Open MPI sets
/// `OMPI_COMM_WORLD_SIZE`), a single process otherwise. Created once per process.
/// (A namespace rather than `Communicator.world()`: Swift cannot call a static member on a
/// protocol that returns an existential.)
public enum World {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var shared: (any Communicator)?

    public static func communicator() throws -> any Communicator {
        lock.lock()
        defer { lock.unlock() }
        if let shared { return shared }
        let made: any Communicator = isLaunchedByMPI ? try MPICommunicator() : SingleProcessCommunicator()
        shared = made
        return made
    }

    public static var isLaunchedByMPI: Bool {
        ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil
    }
}

extension Communicator {
    public var isRoot: Bool { rank == 0 }

    public func abort(message: String) -> Never { abort(code: 1, message: message) }

    public func anyTrue(_ flag: Bool) throws -> Bool { try agree(flag, .any) }
    public func allTrue(_ flag: Bool) throws -> Bool { try agree(flag, .all) }

    /// In-place mean over ranks. Divides (rather than multiplying by 1/size) so a mean that is
    /// representable comes out exact.
    public func allreduceAverage(_ values: UnsafeMutableBufferPointer<Float>) throws {
        try allreduceSum(values)
        divide(values, by: size)
    }

    public func allreduceSum(_ values: inout [Float]) throws { try values.withUnsafeMutableBufferPointer { try allreduceSum($0) } }
    public func allreduceSum(_ values: inout [Double]) throws { try values.withUnsafeMutableBufferPointer { try allreduceSum($0) } }
    public func allreduceAverage(_ values: inout [Float]) throws { try values.withUnsafeMutableBufferPointer { try allreduceAverage($0) } }

    /// Broadcasts a fixed-size array (same count on every rank).
    public func broadcast<T: BitwiseCopyable>(_ values: inout [T], root: Int = 0) throws {
        try values.withUnsafeMutableBytes { try broadcast($0, root: root) }
    }

    /// Broadcasts a single value.
    public func broadcast<T: BitwiseCopyable>(_ value: inout T, root: Int = 0) throws {
        try withUnsafeMutableBytes(of: &value) { try broadcast($0, root: root) }
    }

    /// Broadcasts bytes whose length only the root knows (a recipe, a JSON state).
    public func broadcast(bytes: [UInt8], root: Int = 0) throws -> [UInt8] {
        var count = rank == root ? bytes.count : 0
        try broadcast(&count, root: root)
        var received = rank == root ? bytes : [UInt8](repeating: 0, count: count)
        try received.withUnsafeMutableBytes { try broadcast($0, root: root) }
        return received
    }

    public func broadcast(string: String, root: Int = 0) throws -> String {
        String(decoding: try broadcast(bytes: Array(string.utf8), root: root), as: UTF8.self)
    }

    /// One value from every rank, in rank order.
    public func allgather<T: BitwiseCopyable>(_ value: T) throws -> [T] {
        var mine = value
        let stride = MemoryLayout<T>.stride
        let gathered = UnsafeMutableRawBufferPointer.allocate(byteCount: stride * size, alignment: MemoryLayout<T>.alignment)
        defer { gathered.deallocate() }
        try withUnsafeBytes(of: &mine) { try allgather($0, into: gathered) }
        return (0..<size).map { gathered.loadUnaligned(fromByteOffset: $0 * stride, as: T.self) }
    }
}

/// Divides in place; shared by the averaging paths.
@inline(__always)
func divide(_ values: UnsafeMutableBufferPointer<Float>, by n: Int) {
    guard n > 1, let p = values.baseAddress else { return }
    let d = Float(n)
    for i in 0..<values.count { p[i] /= d }
}
