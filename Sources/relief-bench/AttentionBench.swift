import ArgumentParser
import Foundation
import Tensors

/// Tiled attention forward and backward: milliseconds and effective GFLOP/s
/// (4·B·H·N²·D forward, 2.5× that backward), to compare with the `gemm` ceiling.
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
            var forward = Double.infinity, backward = Double.infinity
            for _ in 0..<repetitions {
                let tape = Tape.shared
                tape.reset()
                let (tq, tk, tv) = (q.requiringGradient(), k.requiringGradient(), v.requiringGradient())
                var t = Clock.now
                let out = attention(tq, tk, tv)
                forward = min(forward, Clock.seconds(since: t))
                t = Clock.now
                tape.backward(out, seed: seed)
                backward = min(backward, Clock.seconds(since: t))
                tape.reset()
            }
            print(String(format: "N=%5d  forward %8.1f ms %6.1f GFLOP/s   backward %8.1f ms %6.1f GFLOP/s",
                         n, forward * 1e3, flops / forward / 1e9, backward * 1e3, 2.5 * flops / backward / 1e9))
        }
    }
}
