import Foundation

/// Splits work across the cores. Every split is into fixed, disjoint ranges, so results never
/// depend on scheduling; reductions combine fixed-size blocks in order (see `blockCount`).
public enum Parallel {
    /// Worker threads for Relief's kernels, GEMMs included (OpenBLAS itself stays on the calling
    /// thread, see `BLAS`). `RELIEF_THREADS` overrides; under `mpirun` the cores are shared among
    /// the ranks on this node (one thread per rank when ranks ≥ cores).
    public static var threads: Int = {
        BLAS.runOnCallingThread()
        return defaultThreads()
    }() {
        didSet { threads = max(1, threads) }
    }

    static func defaultThreads() -> Int {
        let env = ProcessInfo.processInfo.environment
        if let s = env["RELIEF_THREADS"], let n = Int(s), n > 0 { return n }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let local = env["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1
        return max(1, cores / max(1, local))
    }

    /// Calls `body` on `threads` contiguous pieces of 0..<n, or once when n is below `grain`
    /// per thread (spawning costs more than small loops).
    @inline(__always)
    public static func forRanges(_ n: Int, grain: Int = 32_768, _ body: (Range<Int>) -> Void) {
        let pieces = min(threads, n / max(grain, 1))
        if pieces <= 1 { body(0..<n); return }
        DispatchQueue.concurrentPerform(iterations: pieces) { p in
            body(n * p / pieces ..< n * (p + 1) / pieces)
        }
    }

    /// Calls `body(i)` for i in 0..<n across threads; for work items that are large on their own.
    @inline(__always)
    public static func forEach(_ n: Int, _ body: (Int) -> Void) {
        if threads <= 1 || n <= 1 { for i in 0..<n { body(i) }; return }
        DispatchQueue.concurrentPerform(iterations: n, execute: body)
    }

    /// Fixed reduction block: partial results are per block of this many elements and combined
    /// in block order, so a sum is bit-identical whatever the thread count.
    public static let reductionBlock = 4096
    @inline(__always) public static func blockCount(_ n: Int) -> Int { (n + reductionBlock - 1) / reductionBlock }
}
