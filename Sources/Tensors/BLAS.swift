import CBLAS
import Foundation

/// OpenBLAS access: kernel selection, and sgemm split over Relief's own threads.
///
/// OpenBLAS itself always runs on the calling thread. Its own worker threads spin between
/// GEMMs (`sched_yield`) and so take a core from Relief's elementwise kernels, which run
/// between every two GEMMs of a training step; letting them sleep (`OPENBLAS_THREAD_TIMEOUT`)
/// hung a 2-thread sgemm of OpenBLAS 0.3.21 here. So `sgemm` splits a large product into
/// fixed disjoint blocks of C, each a single-threaded OpenBLAS call on a `Parallel`
/// thread, and no BLAS worker ever runs.
public enum BLAS {
    /// Called once, by `Parallel.threads`'s initialiser.
    static func runOnCallingThread() { openblas_set_num_threads(1) }

    /// The kernel family OpenBLAS picked at load time (e.g. "SkylakeX", "Haswell").
    public static var coreName: String { String(cString: openblas_get_corename()) }
    public static var config: String { String(cString: openblas_get_config()) }

    /// OpenBLAS picks its kernels when the library loads, from the CPU model it recognises; on
    /// AVX-512 CPUs it does not know it falls back to AVX2 (Haswell) kernels at about half the
    /// speed. If that happened, re-execute this program with `OPENBLAS_CORETYPE=SkylakeX` (read
    /// only at load time). Call first thing in `main`. A user's own `OPENBLAS_CORETYPE` wins.
    public static func configureAtLaunch() {
        _ = Parallel.threads  // puts OpenBLAS on the calling thread
        let env = ProcessInfo.processInfo.environment
        let core = coreName.lowercased()
        guard env["OPENBLAS_CORETYPE"] == nil, cpuHasAVX512,
              !["skylakex", "cooperlake", "sapphire"].contains(where: { core.contains($0) }) else { return }
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 1)
        let args = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", args)
        // execv only returns on failure: carry on with the kernels we have.
    }

    static var cpuHasAVX512: Bool {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return false }
        return info.contains(" avx512f") && info.contains(" avx512bw") && info.contains(" avx512vl")
    }

    /// Products smaller than this many multiply-adds (~20 µs on one core) run on the calling
    /// thread: handing work to another thread costs a few microseconds.
    static let splitThreshold = 1 << 21
    /// Block edges fall on multiples of this, so every block keeps OpenBLAS's full-width
    /// microkernel tiles (16 floats on AVX-512) except at the matrix edge.
    static let splitAlignment = 16

    /// A large product is cut into this many blocks of C whatever the thread count: OpenBLAS's
    /// value for an element can depend on the width of the block it lies in (the kernels OpenBLAS
    /// picks on AMD Zen round a column-split product differently in the last bit), so blocks that followed the
    /// thread count would make results depend on it. Two: the cores of every machine the project
    /// runs on. One thread runs the blocks in turn.
    static let splitBlocks = 2

    /// C = alpha·op(A)·op(B) + beta·C, row-major. C is cut along its longer side into
    /// `splitBlocks` fixed blocks, each one single-threaded call, run on `Parallel.threads`
    /// threads; every element comes from the same call with the same k-order whatever the thread
    /// count, so results do not depend on threads or scheduling.
    public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let splitRows = m >= n
        let pieces = min(splitBlocks, (splitRows ? m : n) / (4 * splitAlignment))
        guard pieces > 1, m * n * k >= splitThreshold else {
            sgemmOnThisThread(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                              b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        let extent = splitRows ? m : n
        let tiles = (extent + splitAlignment - 1) / splitAlignment
        let block = { (p: Int) in
            let lo = min(extent, tiles * p / pieces * splitAlignment)
            let hi = min(extent, tiles * (p + 1) / pieces * splitAlignment)
            guard hi > lo else { return }
            if splitRows {  // rows lo..<hi of C and of op(A)
                sgemmOnThisThread(transA: transA, transB: transB, m: hi - lo, n: n, k: k, alpha: alpha,
                                  a: a + (transA ? lo : lo * lda), lda: lda, b: b, ldb: ldb,
                                  beta: beta, c: c + lo * ldc, ldc: ldc)
            } else {        // columns lo..<hi of C and of op(B)
                sgemmOnThisThread(transA: transA, transB: transB, m: m, n: hi - lo, k: k, alpha: alpha,
                                  a: a, lda: lda, b: b + (transB ? lo * ldb : lo), ldb: ldb,
                                  beta: beta, c: c + lo, ldc: ldc)
            }
        }
        if Parallel.threads > 1 { DispatchQueue.concurrentPerform(iterations: pieces, execute: block) } else { (0..<pieces).forEach(block) }
    }

    /// The same product on the calling thread alone: for GEMMs inside work that is already split
    /// across threads (attention's per-block products).
    @inline(__always)
    public static func sgemmOnThisThread(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                                         a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                         beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Runs `body` with OpenBLAS's own threading on `threads` threads, then back on the calling
    /// thread: only for measuring OpenBLAS's ceiling against Relief's split. Returns after its
    /// workers have gone to sleep (they spin ~0.1 s after their last GEMM), so that they do not
    /// slow down whatever is measured next.
    public static func withOpenBLASThreads<T>(_ threads: Int, _ body: () -> T) -> T {
        openblas_set_num_threads(Int32(threads))
        defer {
            openblas_set_num_threads(1)
            usleep(300_000)
        }
        return body()
    }
}
