import ArgumentParser
import Distributed
import Foundation
import Tensors

/// Allreduce bandwidth across the ranks of `mpirun -np N relief-bench allreduce`, beside a plain
/// memcpy of the same buffer (the local memory-bandwidth yardstick). Algorithm bandwidth is
/// bytes / time; bus bandwidth scales it by 2(N−1)/N, the bytes each rank actually moves in a
/// ring allreduce. `--self-test` instead checks every collective for exact results.
struct AllreduceBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "MPI allreduce GB/s for 1–100 MB buffers vs memcpy (run under mpirun -np 2).")

    @Option(help: "Buffer sizes in MB.") var sizes: [Int] = [1, 2, 4, 8, 16, 32, 64, 100]
    @Option(help: "Timed repetitions per size.") var repetitions: Int = 10
    @Flag(help: "Check broadcast, allreduce, allgather, agreement and bucketed averaging for exact results; exit 1 on any mismatch.")
    var selfTest = false
    @Option(help: "Bucketed column: non-blocking reductions (true) or blocking per bucket (false).")
    var overlap: Bool = true
    @Option(help: .hidden) var abortRank: Int?

    func run() throws {
        let comm = try World.communicator()
        if let abortRank {
            // Shows how a failing rank ends the job: the others wait in a barrier until MPI kills them.
            if comm.rank == abortRank { comm.abort(code: 3, message: "deliberate abort requested by --abort-rank") }
            try comm.barrier()
            return
        }
        if selfTest { return try runSelfTest(comm) }
        try measure(comm)
    }

    private func runSelfTest(_ comm: any Communicator) throws {
        let failures = try CollectiveSelfCheck.run(comm)
        let failedRanks = try comm.allgather(Int32(failures.count))
        for f in failures { FileHandle.standardError.write(Data("\(f)\n".utf8)) }
        let total = failedRanks.reduce(0, +)
        if comm.isRoot {
            print(total == 0 ? "self-test passed on \(comm.size) rank(s) (\(comm.kind))" : "self-test FAILED: \(total) mismatches")
        }
        if total != 0 { throw ExitCode(1) }
    }

    private func measure(_ comm: any Communicator) throws {
        if comm.isRoot {
            print("allreduce over \(comm.size) rank(s) (\(comm.kind)), \(repetitions) repetitions, best time")
            if comm.size == 1 { print("single process: allreduce is a no-op (the data is already the sum); run under mpirun -np 2") }
            print("    size    allreduce   algbw GB/s   busbw GB/s   iallreduce GB/s   bucketed GB/s   memcpy GB/s")
        }
        for mb in sizes {
            let count = mb * (1 << 20) / MemoryLayout<Float>.stride
            let bytes = Double(count * MemoryLayout<Float>.stride)
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
            let copy = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
            defer { buffer.deallocate(); copy.deallocate() }
            buffer.initialize(repeating: 1)
            copy.initialize(repeating: 0)

            let reduce = try bestTime(comm) { try comm.allreduceSum(buffer) }
            let nonblocking = try bestTime(comm) { try comm.startAllreduceSum(buffer).wait() }
            let bucketer = GradientBucketer(buffer: buffer, overlap: overlap, communicator: comm)
            let bucketed = try bestTime(comm) {
                try bucketer.markReady(0..<count)
                try bucketer.finish()
            }
            let memcpyTime = try bestTime(comm) {
                UnsafeMutableRawPointer(copy.baseAddress!).copyMemory(from: buffer.baseAddress!, byteCount: Int(bytes))
            }
            // The slowest rank sets the pace of a collective; memcpy is reported the same way
            // (ranks copy at the same time, sharing memory bandwidth as the allreduce does).
            let all = try comm.allgather(SIMD4(reduce, nonblocking, bucketed, memcpyTime))
            let slowest = all.reduce(SIMD4(repeating: 0)) { pointwiseMax($0, $1) }
            let algbw = bytes / slowest[0] / 1e9
            let busbw = algbw * 2 * Double(comm.size - 1) / Double(comm.size)
            if comm.isRoot && comm.size == 1 {
                print(String(format: "%5d MB", mb) + "  no-op" + String(repeating: " ", count: 68) + String(format: "%12.2f", bytes / slowest[3] / 1e9))
            } else if comm.isRoot {
                print(String(format: "%5d MB  %8.3f ms  %11.2f  %11.2f  %16.2f  %14.2f  %12.2f", mb, slowest[0] * 1e3, algbw, busbw,
                             bytes / slowest[1] / 1e9, bytes / slowest[2] / 1e9, bytes / slowest[3] / 1e9))
            }
        }
    }

    /// Best of `repetitions` after one warm-up, every rank starting together.
    private func bestTime(_ comm: any Communicator, _ body: () throws -> Void) throws -> Double {
        try body()
        var best = Double.infinity
        for _ in 0..<repetitions {
            try comm.barrier()
            let start = Clock.now
            try body()
            best = min(best, Clock.seconds(since: start))
        }
        return best
    }
}
