import ArgumentParser
import Checkpoints
import Datasets
import Distributed
import Foundation
import Layers
import Reconstruction
import Splatting
import Tensors

/// One GS-LRM training step at a recipe's shapes, and where its time goes: the transformer
/// (forward, backward, effective GFLOP/s against the sgemm ceiling), rendering with its backward,
/// the loss, the gradient allreduce (under `mpirun`) and assembling the batch from shards.
/// With `--checkpoint` and `--dataset` it is a trained model on real views; without, random
/// views into an untrained model, whose Gaussians spread over every depth: rendering's worst case.
struct ReconstructorBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconstructor",
        abstract: "GS-LRM training step time split: transformer, rendering, loss, gradient sync.")

    @Option(help: "Transformer width.") var width = 256
    @Option(help: "Transformer blocks.") var layers = 4
    @Option(help: "Attention heads.") var heads = 4
    @Option(help: "Patch size.") var patch = 8
    @Option(help: "Image size.") var resolution = 64
    @Option(help: "Samples per rank.") var batch = 4
    @Option(help: "Input views per sample.") var inputs = 4
    @Option(help: "Rendered (supervision) views per sample, inputs included.") var views = 8
    @Option(help: "Log-scale bias of the decoded Gaussians.") var scaleBias: Float = -2.3
    @Option(help: "SSIM weight in the loss.") var ssimWeight: Float = 0.2
    @Option(help: "Timed iterations (after one warm-up); the best is reported.") var iterations = 3
    @Option(help: "Threads (default: cores per rank).") var threads: Int?
    @Option(help: "A GS-LRM run or step folder: its EMA weights and configuration replace the size options.")
    var checkpoint: String?
    @Option(help: "A dataset folder: batches are assembled from its training shards (and timed) instead of random views.")
    var dataset: String?

    func run() throws {
        if let threads { Parallel.threads = threads }
        let comm = try World.communicator()
        let model: GSLRM
        if let checkpoint {
            model = try GSLRM.load(try CheckpointDirectory.resolve(path: checkpoint)).model
        } else {
            var c = GSLRMConfiguration()
            c.width = width; c.layers = layers; c.heads = heads; c.patchSize = patch; c.resolution = resolution
            c.inputViews = inputs; c.scaleBias = scaleBias
            if let problem = c.problem { throw ValidationError(problem) }
            model = GSLRM(c)
        }
        let c = model.configuration
        let (width, layers, patch, resolution) = (c.width, c.layers, c.patchSize, c.resolution)
        let store = ParameterStore(model: model, seed: checkpoint == nil ? 1 : nil)
        let loss = ReconstructionLoss(ssimWeight: ssimWeight)
        var images: Tensor, cameras: [[Camera]], white = Tensor(repeating: 1, shape: [batch, 3]), dataSeconds = 0.0
        if let dataset {
            let data = try ShardedDataset(dataset)
            guard data.width == resolution && data.height == resolution else {
                throw ValidationError("\(dataset) holds \(data.width)×\(data.height) views; the model takes \(resolution)²")
            }
            let assembler = BatchAssembler(dataset: data, selection: .random(inputs: inputs, supervision: views - inputs, nearInputs: false),
                                           background: .white, seed: 1)
            var scratch = [UInt8](repeating: 0, count: data.height * data.width * 4)
            var b: Batch? = nil
            dataSeconds = .infinity
            for i in 0...iterations {
                let t = Clock.now
                b = try assembler.assemble(Array((i * batch)..<((i + 1) * batch)).map { $0 % data.count }, cursor: .init(), next: .init(),
                                           scratch: &scratch)
                dataSeconds = min(dataSeconds, Clock.seconds(since: t))
            }
            (images, cameras, white) = (b!.images, b!.cameras(), b!.background)
        } else {
            var rng = Philox(seed: 2)
            let rig = OrbitRig.reconstruction(size: resolution)
            cameras = (0..<batch).map { b in (0..<views).map { rig[(b * 3 + $0 * 4) % rig.count] } }
            images = Tensor.uniform([batch, views, 3, resolution, resolution], low: 0, high: 1, rng: &rng)
        }
        let inputCameras = cameras.map { Array($0.prefix(inputs)) }
        let inputImages = images.sliced(axis: 1, range: 0..<inputs)

        let tokens = inputs * (resolution / patch) * (resolution / patch)
        let matrixParameters = store.entries.filter { $0.shape.count == 2 }.reduce(0) { $0 + $1.count }
        let transformerFLOPs = 6 * Double(matrixParameters) * Double(batch * tokens)
            + 12 * Double(layers * batch) * Double(tokens * tokens) * Double(width)
        if comm.isRoot {
            print("reconstructor: width \(width), \(layers) blocks, \(c.heads) heads, patch \(patch), \(resolution)², "
                  + "\(batch) samples × \(inputs) input views (\(tokens) tokens) → \(views) rendered views; "
                  + "\(store.count) parameters; \(comm.size) rank(s) × \(Parallel.threads) thread(s); BLAS \(BLAS.coreName)")
            print("  " + (checkpoint.map { "trained weights from \($0)" } ?? "untrained weights") + ", "
                  + (dataset.map { "views from \($0)" } ?? "random views"))
        }

        // The whole step, as the trainer runs it (without the optimizer update).
        var best = (step: Double.infinity, forward: 0.0, sync: 0.0)
        for i in 0...iterations {
            Tape.shared.reset()
            store.zeroGradients()
            let t0 = Clock.now
            let g = model.reconstruct(images: inputImages, cameras: inputCameras)
            let (l, _) = loss(g.render(cameras, backgrounds: white).rgb, images)
            let forward = Clock.seconds(since: t0)
            Tape.shared.backward(l)
            let t1 = Clock.now
            try comm.allreduceAverage(UnsafeMutableBufferPointer(start: store.gradients.storage.base, count: store.count))
            let sync = Clock.seconds(since: t1)
            let step = Clock.seconds(since: t0)
            if i > 0 && step < best.step { best = (step, forward, sync) }
        }

        // Each part alone, forward + backward, at the step's shapes.
        let posed = model.posedInput(images: inputImages, cameras: inputCameras)
        let rays = PixelRays(inputCameras)
        let (transformerForward, transformerBackward) = timeSteps(iterations) { model(posed) } backward: { y in
            store.zeroGradients()
            Tape.shared.backward(y, seed: Tensor(repeating: 1e-3, shape: y.shape))
        }
        let raw = withoutGradients { model(posed) }
        let (renderForward, renderBackward) = timeSteps(iterations) {
            PixelGaussians(raw: raw.requiringGradient(), rays: rays, configuration: c).render(cameras, backgrounds: white).rgb
        } backward: { y in Tape.shared.backward(y, seed: Tensor(repeating: 1e-3, shape: y.shape)) }
        let t = GaussianRasterizer.lastTimings
        let rendered = withoutGradients { PixelGaussians(raw: raw, rays: rays, configuration: c).render(cameras, backgrounds: white).rgb }
        let (lossForward, lossBackward) = timeSteps(iterations) { loss(rendered.requiringGradient(), images).loss } backward: { y in
            Tape.shared.backward(y)
        }
        guard comm.isRoot else { return }
        // Rank 0 measures alone with its own thread count: the ceiling one rank can reach.
        let ceiling = GEMMCeiling.measure(seconds: 1).sustained
        func line(_ label: String, _ seconds: Double, _ extra: String = "") {
            print("  " + label.padding(toLength: 30, withPad: " ", startingAt: 0)
                  + String(format: "%8.1f ms  (%4.1f%% of step)", seconds * 1e3, 100 * seconds / best.step) + extra)
        }
        print(String(format: "step: %.1f ms (forward %.1f ms, backward+sync %.1f ms) = %.2f samples/s per rank",
                     best.step * 1e3, best.forward * 1e3, (best.step - best.forward) * 1e3, Double(batch) / best.step))
        print("split (each part alone, forward+backward):")
        let rate = transformerFLOPs / (transformerForward + transformerBackward) / 1e9
        line("transformer forward", transformerForward)
        line("transformer backward", transformerBackward,
             String(format: "   %.1f GFLOP/s = %.0f%% of the %.1f GFLOP/s sgemm ceiling per rank", rate, 100 * rate / ceiling, ceiling))
        line("decode + render forward", renderForward)
        line("render backward", renderBackward,
             String(format: "   (best call: projection %.1f, binning %.1f, raster fwd %.1f, bwd %.1f ms)",
                    t.projection * 1e3, t.binning * 1e3, t.forward * 1e3, t.backward * 1e3))
        line("loss (MSE + SSIM)", lossForward + lossBackward)
        line("gradient allreduce", best.sync, comm.size == 1 ? "   (single process: run under mpirun -np 2)" : "")
        if dataset != nil {
            line("batch assembly (loader thread)", dataSeconds, "   off the step: the prefetch thread overlaps it")
        } else {
            print("  batch assembly: give --dataset to time it (the loader's prefetch thread runs it beside the step)")
        }
    }
}
