import ArgumentParser
import Foundation
import Layers
import Tensors

/// Forward + backward of a pre-LN transformer (GS-LRM-sized blocks), against the sgemm ceiling.
struct TransformerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transformer",
        abstract: "Pre-LN transformer forward+backward: time, effective GFLOP/s, share of the sgemm ceiling.")

    @Option(help: "Model width.") var width = 512
    @Option(help: "Attention heads.") var heads = 8
    @Option(help: "Tokens per sequence.") var sequence = 1024
    @Option(help: "Sequences per batch.") var batch = 2
    @Option(help: "Transformer blocks.") var blocks = 6
    @Option(help: "Timed iterations (after one warm-up).") var iterations = 5
    @Option(help: "Threads (default: all cores).") var threads: Int?

    func run() {
        if let threads { Parallel.threads = threads }
        let model = TransformerStack(width: width, heads: heads, blocks: blocks)
        let store = ParameterStore(model: model, seed: 1)
        var rng = Philox(seed: 2)
        let x = Tensor.normal([batch, sequence, width], rng: &rng)
        let probe = Tensor.normal([batch, sequence, width], rng: &rng)

        // Useful FLOPs of one forward+backward (backward = 2× forward), recomputation not counted:
        //   dense:     6 · P_matrices · tokens            (2 per multiply-add forward, ×3 with backward)
        //   attention: 12 · blocks · B · N² · D           (QKᵀ and P·V: 2·2·B·N²·D forward, ×3)
        let matrixParameters = store.entries.filter { $0.shape.count == 2 }.reduce(0) { $0 + $1.count }
        let tokens = Double(batch * sequence)
        let denseFLOPs = 6 * Double(matrixParameters) * tokens
        let attentionFLOPs = 12 * Double(blocks) * Double(batch) * Double(sequence) * Double(sequence) * Double(width)
        let total = denseFLOPs + attentionFLOPs
        print("transformer: \(blocks) blocks, width \(width), \(heads) heads, B=\(batch), N=\(sequence); "
              + "\(store.count) parameters; threads \(Parallel.threads); BLAS \(BLAS.coreName)")
        print(String(format: "FLOPs per step: dense 6·P·T = %.1f G, attention 12·L·B·N²·D = %.1f G, total %.1f G",
                     denseFLOPs / 1e9, attentionFLOPs / 1e9, total / 1e9))

        let step = measureAgainstCeiling(name: "transformer", iterations: iterations, flops: total) {
            model(x)
        } backward: { y in
            store.zeroGradients()
            Tape.shared.backward(y, seed: probe)
        }

        // Where the time goes: each component alone, forward+backward, at the model's shapes.
        let split = TransformerProfile(width: width, heads: heads, sequence: sequence, batch: batch, blocks: blocks)
        split.run(stepSeconds: step)
    }
}

/// `blocks` pre-LN blocks (self-attention + GELU MLP, diffusers names under `blocks.i`).
final class TransformerStack: Module {
    let blocks: [TransformerBlock]

    init(width: Int, heads: Int, blocks: Int) {
        self.blocks = (0..<blocks).map { _ in
            TransformerBlock(dimension: width, heads: heads, headDimension: width / heads, activation: .gelu)
        }
    }

    var namedChildren: [(String, any Module)] { indexed("blocks", blocks) }

    func callAsFunction(_ x: Tensor) -> Tensor { blocks.reduce(x) { h, block in block(h) } }
}

/// Forward+backward time of each transformer component alone, at the model's shapes.
struct TransformerProfile {
    let width, heads, sequence, batch, blocks: Int

    func run(stepSeconds: Double) {
        var rng = Philox(seed: 3)
        let (b, n, d, h) = (batch, sequence, width, heads)
        let x = Tensor.normal([b, n, d], rng: &rng)
        let w = Tensor.normal([d, d], std: 0.02, rng: &rng), w4 = Tensor.normal([4 * d, d], std: 0.02, rng: &rng)
        let wide = Tensor.normal([b, n, 4 * d], rng: &rng)
        let gain = Tensor(repeating: 1, shape: [d]), shift = Tensor(zeros: [d])

        func measure(_ label: String, perBlock: Int, _ f: ([Tensor]) -> Tensor, _ inputs: [Tensor]) -> Double {
            var best = Double.infinity
            for i in 0...2 {
                Tape.shared.reset()
                let tracked = inputs.map { $0.requiringGradient() }
                let t = Clock.now
                let y = f(tracked)
                Tape.shared.backward(y)
                if i > 0 { best = min(best, Clock.seconds(since: t)) }
                Tape.shared.reset()
            }
            let total = best * Double(perBlock * blocks)
            print("  " + label.padding(toLength: 34, withPad: " ", startingAt: 0) + String(format: "%7.3f s  (%4.1f%% of step)", total, 100 * total / stepSeconds))
            return total
        }
        print("split (each component alone, forward+backward, × count per model):")
        var sum = 0.0
        sum += measure("linear d→d (q, k, v, out) ×4", perBlock: 4, { matmul($0[0], $0[1], transposeB: true) }, [x, w])
        sum += measure("linear d→4d and 4d→d ×2", perBlock: 2, { matmul($0[0], $0[1], transposeB: true) }, [x, w4])
        sum += measure("attention core (flash) ×1", perBlock: 1, { attention($0[0], $0[1], $0[2], heads: h) }, [x, x, x])
        sum += measure("layerNorm ×2", perBlock: 2, { layerNorm($0[0], weight: $0[1], bias: $0[2]) }, [x, gain, shift])
        sum += measure("gelu on 4d ×1", perBlock: 1, { gelu($0[0]) }, [wide])
        sum += measure("bias adds + residual adds", perBlock: 1, { $0[0] + $0[1] }, [wide, Tensor(zeros: [4 * d])])
        print("  " + "sum of components".padding(toLength: 34, withPad: " ", startingAt: 0) + String(format: "%7.3f s  (%4.1f%% of step)", sum, 100 * sum / stepSeconds))
    }
}
