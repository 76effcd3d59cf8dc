import CMPI
import Foundation

/// `MPI_COMM_WORLD` through Open MPI. Initialised with `MPI_THREAD_FUNNELED` (only the main
/// thread calls MPI; compute threads never do) and `MPI_ERRORS_RETURN`, so a failed call becomes
/// a thrown `DistributedError` with MPI's message instead of MPI's default of aborting silently.
/// MPI is finalised when the process exits normally.
public final class MPICommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    public let localRank: Int
    public let localSize: Int
    public var kind: String { "MPI" }
    private let comm: MPI_Comm

    /// MPI counts are 32-bit: larger buffers go in pieces of this many elements.
    static let maxCount = Int(Int32.max)

    /// Initialises MPI (once per process; use `World.communicator()`).
    init() throws {
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        if initialized == 0 {
            var provided: Int32 = 0
            let code = MPI_Init_thread(nil, nil, relief_MPI_THREAD_FUNNELED(), &provided)
            if code != MPI_SUCCESS { throw DistributedError(call: "MPI_Init_thread", rank: -1, Self.errorText(code)) }
            atexit { MPICommunicator.finalizeIfNeeded() }
            if provided < relief_MPI_THREAD_FUNNELED() {
                throw DistributedError(call: "MPI_Init_thread", rank: -1, "this MPI provides thread level \(provided), Relief needs MPI_THREAD_FUNNELED")
            }
        }
        comm = relief_MPI_COMM_WORLD()
        MPI_Comm_set_errhandler(comm, relief_MPI_ERRORS_RETURN())
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(comm, &r)
        MPI_Comm_size(comm, &s)
        rank = Int(r)
        size = Int(s)

        // Ranks sharing this machine: a communicator split by shared memory.
        var local: MPI_Comm? = relief_MPI_COMM_NULL()
        var lr: Int32 = 0, ls: Int32 = 1
        let code = MPI_Comm_split_type(comm, relief_MPI_COMM_TYPE_SHARED(), r, relief_MPI_INFO_NULL(), &local)
        if code != MPI_SUCCESS { throw DistributedError(call: "MPI_Comm_split_type", rank: rank, Self.errorText(code)) }
        MPI_Comm_rank(local, &lr)
        MPI_Comm_size(local, &ls)
        MPI_Comm_free(&local)
        localRank = Int(lr)
        localSize = Int(ls)
    }

    static func finalizeIfNeeded() {
        var initialized: Int32 = 0, finalized: Int32 = 0
        MPI_Initialized(&initialized)
        MPI_Finalized(&finalized)
        if initialized != 0 && finalized == 0 { MPI_Finalize() }
    }

    static func errorText(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(relief_MPI_MAX_ERROR_STRING()) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &buffer, &length)
        return "\(String(cString: buffer)) (MPI error \(code))"
    }

    private func check(_ code: Int32, _ call: @autoclosure () -> String) throws {
        if code != MPI_SUCCESS { throw DistributedError(call: call(), rank: rank, Self.errorText(code)) }
    }

    /// Calls `body(offset, count)` over pieces that fit MPI's 32-bit counts.
    private func inPieces(_ total: Int, _ body: (Int, Int32) throws -> Void) rethrows {
        var offset = 0
        repeat {
            let n = min(total - offset, Self.maxCount)
            try body(offset, Int32(n))
            offset += n
        } while offset < total
    }

    public func barrier() throws { try check(MPI_Barrier(comm), "MPI_Barrier") }

    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
        try inPieces(bytes.count) { offset, n in
            try check(MPI_Bcast(bytes.baseAddress.map { $0 + offset }, n, relief_MPI_BYTE(), Int32(root), comm),
                      "MPI_Bcast of \(bytes.count) bytes from root \(root)")
        }
    }

    public func allreduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        try inPieces(values.count) { offset, n in
            try check(MPI_Allreduce(relief_MPI_IN_PLACE(), values.baseAddress.map { $0 + offset }, n, relief_MPI_FLOAT(), relief_MPI_SUM(), comm),
                      "MPI_Allreduce of \(values.count) floats")
        }
    }

    public func allreduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        try inPieces(values.count) { offset, n in
            try check(MPI_Allreduce(relief_MPI_IN_PLACE(), values.baseAddress.map { $0 + offset }, n, relief_MPI_DOUBLE(), relief_MPI_SUM(), comm),
                      "MPI_Allreduce of \(values.count) doubles")
        }
    }

    public func startAllreduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws -> PendingReduction {
        let pending = MPIPendingReduction(rank: rank, what: "MPI_Iallreduce of \(values.count) floats")
        try inPieces(values.count) { offset, n in
            var request: MPI_Request? = relief_MPI_REQUEST_NULL()
            try check(MPI_Iallreduce(relief_MPI_IN_PLACE(), values.baseAddress.map { $0 + offset }, n, relief_MPI_FLOAT(), relief_MPI_SUM(), comm, &request),
                      pending.what)
            pending.requests.append(request)
        }
        return pending
    }

    public func allgather(_ bytes: UnsafeRawBufferPointer, into gathered: UnsafeMutableRawBufferPointer) throws {
        guard gathered.count == bytes.count * size else {
            throw DistributedError(call: "allgather", rank: rank, "gathered buffer holds \(gathered.count) bytes, expected \(bytes.count) × \(size) ranks")
        }
        guard bytes.count <= Self.maxCount else { throw DistributedError(call: "allgather", rank: rank, "\(bytes.count) bytes per rank is too many") }
        try check(MPI_Allgather(bytes.baseAddress, Int32(bytes.count), relief_MPI_BYTE(), gathered.baseAddress, Int32(bytes.count), relief_MPI_BYTE(), comm),
                  "MPI_Allgather of \(bytes.count) bytes")
    }

    public func agree(_ flag: Bool, _ rule: Agreement) throws -> Bool {
        var value: Int32 = flag ? 1 : 0
        let op = rule == .any ? relief_MPI_LOR() : relief_MPI_LAND()
        try check(MPI_Allreduce(relief_MPI_IN_PLACE(), &value, 1, relief_MPI_INT(), op, comm), "MPI_Allreduce (agree)")
        return value != 0
    }

    public func abort(code: Int32, message: String) -> Never {
        FileHandle.standardError.write(Data("rank \(rank): \(message)\n".utf8))
        MPI_Abort(comm, code)
        exit(code)  // MPI_Abort does not return; this only satisfies the type checker.
    }
}

/// The requests of one started `MPI_Iallreduce` (several when the buffer exceeds 32-bit counts).
final class MPIPendingReduction: PendingReduction {
    var requests: [MPI_Request?] = []
    let rank: Int
    let what: String

    init(rank: Int, what: String) {
        self.rank = rank
        self.what = what
    }

    func test() throws -> Bool {
        var done: Int32 = 0
        let code = MPI_Testall(Int32(requests.count), &requests, &done, relief_MPI_STATUSES_IGNORE())
        if code != MPI_SUCCESS { throw DistributedError(call: what, rank: rank, MPICommunicator.errorText(code)) }
        return done != 0
    }

    func wait() throws {
        let code = MPI_Waitall(Int32(requests.count), &requests, relief_MPI_STATUSES_IGNORE())
        if code != MPI_SUCCESS { throw DistributedError(call: what, rank: rank, MPICommunicator.errorText(code)) }
    }
}
