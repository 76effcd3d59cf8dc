import ArgumentParser
import Foundation
import Layers
import Tensors

/// Forward + backward of a stack of diffusers ResNet blocks (GroupNorm-SiLU-conv3×3 twice).
struct ResNetBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resnet",
        abstract: "ResNet blocks forward+backward: time, effective GFLOP/s, share of the sgemm ceiling.")

    @Option(help: "Channels.") var channels = 128
    @Option(help: "Height and width.") var size = 64
    @Option(help: "Images per batch.") var batch = 2
    @Option(help: "ResNet blocks.") var blocks = 4
    @Option(help: "GroupNorm groups.") var groups = 32
    @Option(help: "Timed iterations (after one warm-up).") var iterations = 5
    @Option(help: "Threads (default: all cores).") var threads: Int?

    func run() {
        if let threads { Parallel.threads = threads }
        let model = ResNetStack(channels: channels, groups: groups, blocks: blocks)
        let store = ParameterStore(model: model, seed: 1)
        var rng = Philox(seed: 2)
        let x = Tensor.normal([batch, channels, size, size], rng: &rng)
        let probe = Tensor.normal(x.shape, rng: &rng)

        // Useful FLOPs: each 3×3 conv is 2·C²·9·H·W per image forward, ×3 with backward.
        let convs = Double(2 * blocks)
        let flops = 3 * convs * 2 * Double(channels * channels * 9) * Double(size * size) * Double(batch)
        print("resnet: \(blocks) blocks, \(channels) channels, \(size)×\(size), B=\(batch); \(store.count) parameters; "
              + "threads \(Parallel.threads); BLAS \(BLAS.coreName)")
        print(String(format: "FLOPs per step: 3 · %d convs · 2·C²·9·H·W·B = %.1f G", Int(convs), flops / 1e9))

        let step = measureAgainstCeiling(name: "resnet", iterations: iterations, flops: flops) {
            model(x)
        } backward: { y in
            store.zeroGradients()
            Tape.shared.backward(y, seed: probe)
        }

        print("split (each component alone, forward+backward, × count per model):")
        let w = Tensor.normal([channels, channels, 3, 3], std: 0.03, rng: &rng)
        let gain = Tensor(repeating: 1, shape: [channels]), shift = Tensor(zeros: [channels])
        func measure(_ label: String, count: Int, _ f: ([Tensor]) -> Tensor, _ inputs: [Tensor]) {
            var best = Double.infinity
            for i in 0...2 {
                Tape.shared.reset()
                let tracked = inputs.map { $0.requiringGradient() }
                let t = Clock.now
                Tape.shared.backward(f(tracked))
                if i > 0 { best = min(best, Clock.seconds(since: t)) }
                Tape.shared.reset()
            }
            let total = best * Double(count)
            print("  " + label.padding(toLength: 34, withPad: " ", startingAt: 0) + String(format: "%7.3f s  (%4.1f%% of step)", total, 100 * total / step))
        }
        measure("conv3×3 (Winograd F(2×2, 3×3))", count: 2 * blocks, { conv2d($0[0], weight: $0[1], padding: 1) }, [x, w])
        measure("groupNorm+SiLU", count: 2 * blocks, { groupNormSiLU($0[0], groups: groups, weight: $0[1], bias: $0[2]) },
                [x, gain, shift])
        measure("residual add", count: blocks, { $0[0] + $0[1] }, [x, x])
    }
}

/// `blocks` ResnetBlock2D without time embedding, channel count unchanged.
final class ResNetStack: Module {
    let blocks: [ResnetBlock2D]

    init(channels: Int, groups: Int, blocks: Int) {
        self.blocks = (0..<blocks).map { _ in
            ResnetBlock2D(inChannels: channels, timeEmbeddingChannels: nil, groups: groups)
        }
    }

    var namedChildren: [(String, any Module)] { indexed("resnets", blocks) }

    func callAsFunction(_ x: Tensor) -> Tensor { blocks.reduce(x) { h, block in block(h) } }
}
