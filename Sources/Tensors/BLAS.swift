import CBLAS
import Foundation

/// OpenBLAS access: thread count and kernel selection.
public enum BLAS {
    static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }

    /// The kernel family OpenBLAS picked at load time (e.g. "SkylakeX", "Haswell").
    public static var coreName: String { String(cString: openblas_get_corename()) }
    public static var config: String { String(cString: openblas_get_config()) }

    /// OpenBLAS reads its configuration from the environment when the library loads, before any
    /// Swift code runs, so programs call this first thing in `main`. It re-executes the program
    /// with what is missing (a user's own values win):
    /// - `OPENBLAS_CORETYPE=SkylakeX` when an AVX-512 CPU that OpenBLAS does not recognise got
    ///   its AVX2 (Haswell) kernels, about half the speed;
    /// - `OPENBLAS_THREAD_TIMEOUT=4`: after each call OpenBLAS's workers otherwise spin in
    ///   `sched_yield` for 2^28 cycles, taking a core from Relief's own parallel kernels between
    ///   GEMMs (transformer step 1.58 → 1.41 s, ResNet step 0.297 → 0.266 s on 2 cores).
    public static func configureAtLaunch() {
        _ = Parallel.threads  // sets OpenBLAS's thread count from RELIEF_THREADS / ranks per node
        let env = ProcessInfo.processInfo.environment
        var missing: [(String, String)] = []
        let core = coreName.lowercased()
        if env["OPENBLAS_CORETYPE"] == nil, cpuHasAVX512,
           !["skylakex", "cooperlake", "sapphire"].contains(where: { core.contains($0) }) {
            missing.append(("OPENBLAS_CORETYPE", "SkylakeX"))
        }
        if env["OPENBLAS_THREAD_TIMEOUT"] == nil { missing.append(("OPENBLAS_THREAD_TIMEOUT", "4")) }
        guard !missing.isEmpty else { return }
        for (key, value) in missing { setenv(key, value, 1) }
        let args = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", args)
        // execv only returns on failure: carry on with the configuration we have.
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
