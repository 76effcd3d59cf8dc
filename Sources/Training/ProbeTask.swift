import Datasets
import Foundation
import Layers
import Tensors

/// `model.kind: probe` — a three-layer convolutional network that predicts a second view of a
/// subject from a first (residually, from the input). Far too small to be a real model: it
/// exists to exercise the whole runtime (shards, ranks, accumulation, checkpoints, resume,
/// evaluation) in seconds. Keys: `model.channels` (default 16).
public final class ProbeTask: TrainingTask {
    final class Network: Module {
        let convIn: Conv2d, convMid: Conv2d, convOut: Conv2d
        init(channels: Int) {
            convIn = Conv2d(3, channels, kernelSize: 3, padding: 1)
            convMid = Conv2d(channels, channels, kernelSize: 3, padding: 1)
            convOut = Conv2d(channels, 3, kernelSize: 3, padding: 1)
        }
        var namedChildren: [(String, any Module)] { [("conv_in", convIn), ("conv_mid", convMid), ("conv_out", convOut)] }
        func callAsFunction(_ x: Tensor) -> Tensor { x + convOut(silu(convMid(silu(convIn(x))))) }
    }

    let network: Network
    public var model: any Module { network }
    public let viewSelection: ViewSelection

    public init(recipe: Recipe) throws {
        network = Network(channels: try recipe.model.section.int("channels", default: 16, min: 1, max: 1024))
        viewSelection = .random(inputs: 1, supervision: 1, nearInputs: recipe.views.nearInputs)
    }

    /// First view [B, 3, H, W] and second view of a batch.
    func views(_ batch: Batch) -> (input: Tensor, target: Tensor) {
        let s = batch.images.shape  // [B, V, 3, H, W]
        let plane = [s[0], 3, s[3], s[4]]
        return (batch.images.sliced(axis: 1, range: 0..<1).reshaped(plane), batch.images.sliced(axis: 1, range: 1..<2).reshaped(plane))
    }

    public func loss(on batch: Batch, rng: inout Philox) -> (loss: Tensor, metrics: [String: Double]) {
        let (input, target) = views(batch)
        return (mseLoss(network(input), target), [:])
    }

    public func evaluate(on batches: [Batch], gridPath: String?) throws -> [String: Double] {
        var total = 0.0, baseline = 0.0, count = 0, rows: [[Tensor]] = []
        for batch in batches where batch.count > 0 {
            let (input, target) = views(batch)
            let prediction = network(input)
            for i in 0..<batch.count {
                let (x, y, truth) = (item(input, i), item(prediction, i), item(target, i))
                total += psnr(y, truth)
                baseline += psnr(x, truth)
                count += 1
                if rows.count < 8 { rows.append([x, y, truth]) }
            }
        }
        if let gridPath { try ImageGrid.write(rows, to: gridPath) }
        return ["psnr": total / Double(max(count, 1)), "psnr_input_as_prediction": baseline / Double(max(count, 1))]
    }
}
