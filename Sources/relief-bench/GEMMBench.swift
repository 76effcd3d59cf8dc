import ArgumentParser
import Foundation
import Tensors

/// The ceiling: best OpenBLAS sgemm GFLOP/s over square sizes.
struct GEMMBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gemm", abstract: "OpenBLAS sgemm GFLOP/s (the ceiling).")

    @Option(help: "Matrix sizes to try.") var sizes: [Int] = [512, 1024, 2048]
    @Option(help: "Threads (default: all cores).") var threads: Int?

    func run() {
        if let threads { Parallel.threads = threads }
        print("OpenBLAS kernels: \(BLAS.coreName) (\(BLAS.config)); threads \(Parallel.threads)")
        let best = GEMMCeiling.measure(sizes: sizes, report: true)
        print(String(format: "ceiling: %.1f GFLOP/s", best))
    }
}

enum GEMMCeiling {
    /// Best sgemm GFLOP/s over the given sizes (best of several repetitions each), with OpenBLAS
    /// threading itself and with Relief's split over `Parallel` threads (what models use): the
    /// higher is the ceiling.
    static func measure(sizes: [Int] = [1024, 2048], report: Bool = false) -> Double {
        var best = 0.0
        var rng = Philox(seed: 1)
        for n in sizes {
            let a = Tensor.normal([n, n], rng: &rng), b = Tensor.normal([n, n], rng: &rng)
            let c = Tensor(zeros: [n, n])
            let reps = max(3, Int(2e10 / Double(2 * n * n * n)))
            func fastest(_ gemm: () -> Void) -> Double {
                var fastest = Double.infinity
                for _ in 0..<reps {
                    let t = Clock.now
                    gemm()
                    fastest = min(fastest, Clock.seconds(since: t))
                }
                return 2 * Double(n) * Double(n) * Double(n) / fastest / 1e9
            }
            let openBLAS = BLAS.withOpenBLASThreads(Parallel.threads) {
                fastest {
                    BLAS.sgemmOnThisThread(transA: false, transB: false, m: n, n: n, k: n, a: a.storage.base, lda: n,
                                           b: b.storage.base, ldb: n, beta: 0, c: c.storage.base, ldc: n)
                }
            }
            let split = fastest {
                BLAS.sgemm(transA: false, transB: false, m: n, n: n, k: n, a: a.storage.base, lda: n,
                           b: b.storage.base, ldb: n, beta: 0, c: c.storage.base, ldc: n)
            }
            if report {
                print(String(format: "sgemm %5d³: OpenBLAS threads %6.1f GFLOP/s, Relief split %6.1f GFLOP/s",
                             n, openBLAS, split))
            }
            best = max(best, openBLAS, split)
        }
        return best
    }
}
