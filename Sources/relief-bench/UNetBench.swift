import ArgumentParser
import Checkpoints
import Diffusion
import Foundation
import Layers
import Tensors

/// UNet2DConditionModel forward+backward (a training step without the optimizer: loss = mean of
/// the output², backward to every weight) at a multi-view diffusion stage's configuration,
/// optionally side by side with diffusers' in PyTorch (scripts/peers/unet_peer.py, which reads the
/// configuration this bench prints), the two alternated round by round so a drifting machine
/// slows both alike. With --checkpoint and --dump, instead writes inputs and a trained UNet's
/// output for scripts/checks/unet_export_check.py.
struct UNetBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unet",
        abstract: "UNet2DConditionModel forward+backward step time; with --peer, against diffusers in PyTorch.",
        discussion: """
            --stage high (default) is recipes/mvdiff-high.yaml's UNet: 16² latents, 1 sample × 6 views; \
            --stage low is recipes/mvdiff-low.yaml's: 8² latents, 2 samples × 6 views. Both as the \
            mvdiffusion task builds them: in_channels 8 (noisy + condition latents), out 4, a mid block, \
            cross-attention to (side/2)² condition tokens of width 64, class_embed_type projection from 72.
            --checkpoint RUN --dump FILE runs the run's UNet (EMA weights when it has them, as \
            relief-infer export does) once, without gradients, and writes its inputs and output to FILE.
            """)

    enum Stage: String, ExpressibleByArgument { case high, low }

    @Option(help: "Which multi-view diffusion stage's UNet (high or low).") var stage: Stage = .high
    @Option(help: "Multi-view self-attention: dense, sparse or none.") var multiView = "dense"
    @Option(help: "Samples per step (default: the stage's batch_size_per_rank, high 1, low 2; with --dump, 2).") var samples: Int?
    @Option(help: "Views per sample.") var views = 6
    @Option(help: "Latent height and width (default: the stage's, high 16, low 8; with --checkpoint, its sample_size).") var size: Int?
    @Option(help: "Timed steps per round (after one warm-up).") var iterations = 5
    @Option(help: "Rounds (Relief then PyTorch in each).") var rounds = 3
    @Option(help: "Threads for both (default: all cores).") var threads: Int?
    @Option(help: "The PyTorch peer script; empty to skip.") var peer = "scripts/peers/unet_peer.py"
    @Flag(help: "Print the configuration JSON (what the peer reads) and exit.") var printConfig = false
    @Option(help: "With --dump: a Relief run or step folder, or a diffusers UNet folder.") var checkpoint: String?
    @Option(help: "With --checkpoint: write inputs and Relief's output here (safetensors).") var dump: String?

    /// The UNet the mvdiffusion task builds from the stage's recipe (MVDiffusionTask: in = 2·z,
    /// cross_attention_dim = token_dim, class labels = global_dim + 2·camera frequencies).
    var stageConfiguration: UNet2DConditionConfiguration {
        var c = UNet2DConditionConfiguration()
        switch stage {
        case .high:
            c.blockOutChannels = [64, 128, 128]
            c.downBlockTypes = ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"]
            c.upBlockTypes = ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"]
        case .low:
            c.blockOutChannels = [64, 128]
            c.downBlockTypes = ["CrossAttnDownBlock2D", "DownBlock2D"]
            c.upBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D"]
        }
        c.sampleSize = stage == .high ? 16 : 8
        c.inChannels = 8
        c.outChannels = 4
        c.layersPerBlock = 1
        c.normNumGroups = 16
        c.attentionHeadDim = [8]
        c.crossAttentionDim = 64
        c.classEmbedType = "projection"
        c.projectionClassEmbeddingsInputDim = 72
        return c
    }

    /// What one step runs on: the UNet's diffusers configuration and the batch's shape.
    struct Workload {
        let unet: UNet2DConditionConfiguration
        let samples: Int, views: Int, size: Int
        let multiView: MultiViewAttention
        /// The condition encoder's tokens of a side-s latent: ⌈s/2⌉².
        var tokens: Int { ((size + 1) / 2) * ((size + 1) / 2) }
        var images: Int { samples * views }

        /// One JSON line; scripts/peers/unet_peer.py --config takes it as is.
        func json() throws -> String {
            let unetObject = try JSONSerialization.jsonObject(with: Data(unet.json().utf8))
            let object: [String: Any] = ["unet": unetObject, "samples": samples, "views": views, "size": size,
                                         "tokens": tokens, "multi_view": multiView.rawValue]
            return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        }

        /// The UNet's arguments, random: one timestep per sample repeated over its views.
        func inputs(rng: inout Philox) -> (sample: Tensor, timesteps: [Float], states: Tensor?, labels: Tensor?) {
            let sample = Tensor.normal([images, unet.inChannels, size, size], rng: &rng)
            let perSample = (0..<samples).map { _ in Float(rng.int(below: 1000)) }
            let timesteps = perSample.flatMap { Array(repeating: $0, count: views) }
            let states = unet.hasCrossAttention ? Tensor.normal([images, tokens, unet.crossAttentionDim], rng: &rng) : nil
            let labels = unet.projectionClassEmbeddingsInputDim.flatMap { width in
                unet.hasClassEmbedding ? Tensor.normal([images, width], rng: &rng) : nil
            }
            return (sample, timesteps, states, labels)
        }
    }

    func run() throws {
        if let threads { Parallel.threads = threads }
        guard let mode = MultiViewAttention(rawValue: multiView) else {
            throw ValidationError("--multi-view \(multiView): expected one of \(MultiViewAttention.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let batch = samples ?? (stage == .high ? 1 : 2)
        guard samples ?? 1 >= 1, views >= 1 else { throw ValidationError("--samples and --views must be at least 1") }
        if checkpoint != nil || dump != nil {
            guard let checkpoint, let dump else { throw ValidationError("--checkpoint and --dump go together") }
            // Two samples at least, so the check also sees that views never attend across samples.
            return try writeDump(checkpoint: checkpoint, to: dump, samples: samples ?? 2, mode: mode)
        }
        let unet = stageConfiguration
        let workload = Workload(unet: unet, samples: batch, views: views, size: size ?? unet.sampleSize!, multiView: mode)
        let config = try workload.json()
        if printConfig { return print(config) }

        let model = UNet2DConditionModel(configuration: unet)
        let store = ParameterStore(model: model, seed: 1)
        var rng = Philox(seed: 2)
        let x = workload.inputs(rng: &rng)
        print("unet: UNet2DConditionModel \(stage.rawValue) stage \(unet.blockOutChannels) \(unet.downBlockTypes), "
              + "\(workload.size)² latents, \(batch) samples × \(views) views, multi-view \(mode.rawValue); "
              + "\(model.parameterCount) parameters; threads \(Parallel.threads); BLAS \(BLAS.coreName)")
        print("config: \(config)")

        var reliefTimes: [Double] = [], peerTimes: [Double] = []
        for round in 1...max(rounds, 1) {
            let steps = stepTimes(max(iterations, 1), forward: {
                let y = model(x.sample, timesteps: x.timesteps, encoderHiddenStates: x.states, classLabels: x.labels,
                              views: views, multiView: mode)
                return square(y).mean()
            }, backward: { loss in
                store.zeroGradients()
                Tape.shared.backward(loss)
            })
            let seconds = steps.map { $0.forward + $0.backward }
            reliefTimes += seconds
            let best = steps.min { $0.forward + $0.backward < $1.forward + $1.backward }!
            var line = String(format: "round %d: Relief median %.3f s, best %.3f s (forward %.3f + backward %.3f)",
                              round, median(seconds), best.forward + best.backward, best.forward, best.backward)
            if !peer.isEmpty, let theirs = try runPeer(config: config) {
                peerTimes += theirs
                line += String(format: "   PyTorch median %.3f s, best %.3f s", median(theirs), theirs.min()!)
            }
            print(line)
        }
        var summary = String(format: "all %d steps: Relief median %.3f s, best %.3f s", reliefTimes.count,
                             median(reliefTimes), reliefTimes.min()!)
        if !peerTimes.isEmpty {
            summary += String(format: "; PyTorch median %.3f s, best %.3f s: Relief is %.2f× PyTorch's speed (medians)",
                              median(peerTimes), peerTimes.min()!, median(peerTimes) / median(reliefTimes))
        }
        print(summary)
    }

    /// The peer's timed step seconds, or nil when it failed (runPeerScript says why).
    func runPeer(config: String) throws -> [Double]? {
        let json = try runPeerScript(peer, arguments: ["--threads", "\(Parallel.threads)", "--iterations", "\(max(iterations, 1))",
                                                       "--config", config])
        guard let times = json?["times"] as? [Double], !times.isEmpty else { return nil }
        return times
    }

    /// Runs the checkpoint's UNet once on random inputs and writes them with its output (F32):
    /// sample, timesteps, encoder_hidden_states, class_labels (those the UNet takes), output;
    /// metadata: the workload's JSON (views, multi-view mode) and the weights' source.
    func writeDump(checkpoint: String, to file: String, samples: Int, mode: MultiViewAttention) throws {
        let (model, source) = try UNet2DConditionModel.load(path: checkpoint)
        let unet = model.configuration
        guard let side = size ?? unet.sampleSize else {
            throw ValidationError("\(source): the UNet's config has no sample_size; give --size")
        }
        let workload = Workload(unet: unet, samples: samples, views: views, size: side, multiView: mode)
        var rng = Philox(seed: 3)
        let x = workload.inputs(rng: &rng)
        let output = withoutGradients {
            model(x.sample, timesteps: x.timesteps, encoderHiddenStates: x.states, classLabels: x.labels, views: views, multiView: mode)
        }
        var tensors = ["sample": x.sample, "timesteps": Tensor(x.timesteps, shape: [x.timesteps.count]), "output": output]
        if let states = x.states { tensors["encoder_hidden_states"] = states }
        if let labels = x.labels { tensors["class_labels"] = labels }
        try Safetensors.write(tensors, metadata: ["workload": try workload.json(), "source": source],
                                    to: URL(fileURLWithPath: file))
        print("\(file): \(source)'s UNet on \(samples) samples × \(views) views at \(side)², multi-view \(mode.rawValue); "
              + "output \(output.shape)")
    }
}
