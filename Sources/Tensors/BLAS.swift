import CBLAS
import Foundation

/// OpenBLAS access: thread count and kernel selection.
public enum BLAS {
    static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }

    /// The kernel family OpenBLAS picked at load time (e.g. "SkylakeX", "Haswell").
    public static var coreName: String { String(cString: openblas_get_corename()) }
    public static var config: String { String(cString: openblas_get_config()) }

    /// OpenBLAS picks its kernels when the library loads, from the CPU model it recognises; on
    /// AVX-512 CPUs it does not know it falls back to AVX2 (Haswell) kernels at about half the
    /// speed. If that happened, re-execute this program with `OPENBLAS_CORETYPE=SkylakeX` (read
    /// only at load time). Call first thing in `main`. A user's own `OPENBLAS_CORETYPE` wins.
    ///
    /// `OPENBLAS_THREAD_TIMEOUT` (idle workers sleep instead of spinning) is deliberately not
    /// set: with it, OpenBLAS 0.3.21 left a 2-thread sgemm waiting forever on a worker that had
    /// gone to sleep (seen in the test suite, 2026-12-02).
    public static func configureAtLaunch() {
        _ = Parallel.threads  // sets OpenBLAS's thread count from RELIEF_THREADS / ranks per node
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

    /// C = alpha·op(A)·op(B) + beta·C, row-major.
    @inline(__always)
    public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
