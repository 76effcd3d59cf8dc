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
/// core from CPU time, which stays meaningful on a loaded machine.
struct AttentionBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "attention",
                                                    abstract: "Flash-style attention forward + backward speed.")

    @Option(help: "Sequence lengths.") var sequences: [Int] = [1024, 6144]
    @Option(help: "Batch.") var batch = 2
    @Option(help: "Heads.") var heads = 8
    @Option(help: "Head width D.") var width = 64
    @Option(help: "Timed repetitions (best is reported).") var repetitions = 3
    @Option(help: "Threads (default: all cores).") var threads: Int?

    func run() {
        if let threads { Parallel.threads = threads }
        print("OpenBLAS kernels: \(BLAS.coreName); threads \(Parallel.threads); B=\(batch) H=\(heads) D=\(width)")
        var rng = Philox(seed: 1)
        for n in sequences {
            let shape = [batch, heads, n, width]
            let q = Tensor.normal(shape, rng: &rng), k = Tensor.normal(shape, rng: &rng)
            let v = Tensor.normal(shape, rng: &rng), seed = Tensor.normal(shape, rng: &rng)
            let flops = 4 * Double(batch * heads) * Double(n) * Double(n) * Double(width)
            var forward = Double.infinity, backward = Double.infinity, forwardCPU = Double.infinity, backwardCPU = Double.infinity
            for _ in 0..<repetitions {
                let tape = Tape.shared
                tape.reset()
                let (tq, tk, tv) = (q.requiringGradient(), k.requiringGradient(), v.requiringGradient())
                var t = Clock.now, c = processCPUSeconds()
                let out = attention(tq, tk, tv)
                forward = min(forward, Clock.seconds(since: t))
                forwardCPU = min(forwardCPU, processCPUSeconds() - c)
                t = Clock.now
                c = processCPUSeconds()
                tape.backward(out, seed: seed)
                backward = min(backward, Clock.seconds(since: t))
                backwardCPU = min(backwardCPU, processCPUSeconds() - c)
                tape.reset()
            }
            print(String(format: "N=%5d  forward %8.1f ms %6.1f GFLOP/s   backward %8.1f ms %6.1f GFLOP/s",
                         n, forward * 1e3, flops / forward / 1e9, backward * 1e3, 2.5 * flops / backward / 1e9))
            // CPU seconds summed over threads: the work done, which other processes on a shared
            // machine inflate far less than wall time. GFLOP/s per busy core.
            print(String(format: "         CPU: forward %8.1f ms %6.1f GFLOP/s/core  backward %8.1f ms %6.1f GFLOP/s/core",
                         forwardCPU * 1e3, flops / forwardCPU / 1e9, backwardCPU * 1e3, 2.5 * flops / backwardCPU / 1e9))
        }
    }
}
