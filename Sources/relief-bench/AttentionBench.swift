import ArgumentParser
import Foundation
import Tensors

/// CPU time used by this process so far (all threads).
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Tiled attention forward and backward: milliseconds and effective GFLOP/s
/// (4·B·H·N²·D forward, 2.5× that backward), to compare with the `gemm` ceiling; and per busy
/// core from CPU time, which stays meaningful on a loaded machine. Where the CPU has the AVX-512
/// micro-kernels, the OpenBLAS tiles are timed too, in alternation, so both see the same machine.
struct AttentionBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "attention",
                                                    abstract: "Flash-style attention forward + backward speed.")

    @Option(help: "Sequence lengths.") var sequences: [Int] = [1024, 6144]
    @Option(help: "Batch.") var batch = 2
    @Option(help: "Heads.") var heads = 8
    @Option(help: "Head width D.") var width = 64
    @Option(help: "Timed repetitions (best is reported).") var repetitions = 3
    @Option(help: "Threads (default: all cores).") var threads: Int?

    struct Best {
        var forward = Double.infinity, backward = Double.infinity, forwardCPU = Double.infinity, backwardCPU = Double.infinity
    }

    func run() {
        if let threads { Parallel.threads = threads }
        print("OpenBLAS kernels: \(BLAS.coreName); threads \(Parallel.threads); B=\(batch) H=\(heads) D=\(width)")
        let backends = AttentionTiles.microKernelsAvailable ? [true, false] : [false]
        defer { AttentionTiles.microKernels = AttentionTiles.microKernelsAvailable }
        var rng = Philox(seed: 1)
        for n in sequences {
            let shape = [batch, heads, n, width]
            let q = Tensor.normal(shape, rng: &rng), k = Tensor.normal(shape, rng: &rng)
            let v = Tensor.normal(shape, rng: &rng), seed = Tensor.normal(shape, rng: &rng)
            let flops = 4 * Double(batch * heads) * Double(n) * Double(n) * Double(width)
            var best = [Best](repeating: Best(), count: backends.count)
            for _ in 0..<repetitions {
                for (i, micro) in backends.enumerated() {
                    AttentionTiles.microKernels = micro
                    let tape = Tape.shared
                    tape.reset()
                    let (tq, tk, tv) = (q.requiringGradient(), k.requiringGradient(), v.requiringGradient())
                    var t = Clock.now, c = processCPUSeconds()
                    let out = attention(tq, tk, tv)
                    best[i].forward = min(best[i].forward, Clock.seconds(since: t))
                    best[i].forwardCPU = min(best[i].forwardCPU, processCPUSeconds() - c)
                    t = Clock.now
                    c = processCPUSeconds()
                    tape.backward(out, seed: seed)
                    best[i].backward = min(best[i].backward, Clock.seconds(since: t))
                    best[i].backwardCPU = min(best[i].backwardCPU, processCPUSeconds() - c)
                    tape.reset()
                }
            }
            for (b, micro) in zip(best, backends) {
                print(String(format: "N=%5d  %@  forward %8.1f ms %6.1f GFLOP/s   backward %8.1f ms %6.1f GFLOP/s",
                             n, micro ? "micro-kernels" : "OpenBLAS     ", b.forward * 1e3, flops / b.forward / 1e9,
                             b.backward * 1e3, 2.5 * flops / b.backward / 1e9))
                // CPU seconds summed over threads: the work done, which other processes on a shared
                // machine inflate far less than wall time. GFLOP/s per busy core.
                print(String(format: "                        CPU: forward %8.1f ms %6.1f GFLOP/s/core  backward %8.1f ms %6.1f GFLOP/s/core",
                             b.forwardCPU * 1e3, flops / b.forwardCPU / 1e9, b.backwardCPU * 1e3, 2.5 * flops / b.backwardCPU / 1e9))
            }
        }
    }
}
