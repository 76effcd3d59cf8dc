import ArgumentParser
import Datasets
import Diffusion
import Foundation
import Identity
import Layers
import Tensors
import Training

/// The identity encoder's cost inside multi-view diffusion training (issue 15's bar: its forward
/// on the six views at 64² under 5% of a diffusion training step): the encoder's forward on six
/// 64² images, alternated with a diffusion training step: with `--recipe`, the recipe's whole
/// task step on a batch of its data (frozen VAE encodings, condition encoder, UNet, loss,
/// backward); without, the low-stage UNet's forward+backward alone (`relief-bench unet --stage
/// low`'s step, 2 samples × 6 views). Neither counts the optimizer update or the gradient
/// allreduce, so both shares are upper bounds, the UNet-only one the looser.
struct IdentityBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identity",
        abstract: "Identity encoder forward on six 64² views, as a share of a diffusion training step (a recipe's, or the low-stage UNet's).",
        discussion: """
            --checkpoint takes a model.kind identity run or step folder (its configuration and weights); without it \
            the encoder of recipes/identity-guidance.yaml is built with random weights (the cost does not depend \
            on them).
            """)

    @Option(help: "An identity encoder run or step folder (default: identity-guidance.yaml's configuration).") var checkpoint: String?
    @Option(help: "Timed repetitions of each (after one warm-up), alternated.") var iterations = 10
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Option(help: "A model.kind mvdiffusion recipe whose whole training step (on one batch of its training data) is timed instead of the UNet's.")
    var recipe: String?
    @Option(name: .customLong("set"), help: "Override a key of --recipe (repeatable).") var overrides: [String] = []

    func run() throws {
        if let threads { Parallel.threads = threads }
        let encoder: IdentityEncoder
        if let checkpoint {
            encoder = try IdentityEncoder.load(path: checkpoint).encoder
        } else {
            var c = IdentityEncoderConfiguration()
            c.resolution = 32
            c.blockOutChannels = [16, 32, 64, 128]
            c.layersPerBlock = 1
            c.normNumGroups = 8
            c.embeddingDimension = 128
            encoder = IdentityEncoder(c)
            _ = ParameterStore(model: encoder, trainable: false)
        }
        var rng = Philox(seed: 3)
        let views = Tensor.uniform([6, 3, 64, 64], rng: &rng)
        let (trainingStep, stepName) = try recipe.map { try Self.taskStep($0, overrides: overrides) } ?? Self.unetStep(rng: &rng)
        let c = encoder.configuration
        print("identity: encoder \(c.blockOutChannels) at \(c.resolution)², \(c.embeddingDimension)-d, \(encoder.parameterCount) parameters; "
              + "against \(stepName); threads \(Parallel.threads); BLAS \(BLAS.coreName)")

        func seconds(_ body: () -> Void) -> Double {
            let start = Clock.now
            body()
            return Clock.seconds(since: start)
        }
        func encode() { _ = withoutGradients { encoder(views) } }
        func step() -> Double {
            let (f, b) = timeStep(forward: trainingStep.forward, backward: trainingStep.backward)
            return f + b
        }
        encode()
        _ = step()
        var encoderTimes: [Double] = [], stepTimes: [Double] = []
        for _ in 0..<max(iterations, 1) {
            encoderTimes.append(seconds(encode))
            stepTimes.append(step())
        }
        let (e, s) = (median(encoderTimes), median(stepTimes))
        print(String(format: "encoder forward on 6 views at 64²: median %.2f ms; %@: median %.3f s; share %.2f%% (bar < 5%%)",
                     e * 1000, stepName, s, 100 * e / s))
    }

    typealias Step = (forward: () -> Tensor, backward: (Tensor) -> Void)

    /// The low-stage UNet's forward and backward on random inputs.
    static func unetStep(rng: inout Philox) throws -> (Step, String) {
        let unet = try UNetBench.parse(["--stage", "low"])
        let workload = UNetBench.Workload(unet: unet.stageConfiguration, samples: 2, views: 6, size: 8, multiView: .dense)
        let model = UNet2DConditionModel(configuration: workload.unet)
        let store = ParameterStore(model: model, seed: 1)
        let x = workload.inputs(rng: &rng)
        let step: Step = (forward: {
            square(model(x.sample, timesteps: x.timesteps, encoderHiddenStates: x.states, classLabels: x.labels, views: 6, multiView: .dense)).mean()
        }, backward: { loss in
            store.zeroGradients()
            Tape.shared.backward(loss)
        })
        return (step, "the low-stage UNet's forward+backward (\(workload.unet.blockOutChannels), 2 samples × 6 views at 8²)")
    }

    /// A recipe's task step (loss and backward, as the trainer runs them) on its first training batch.
    static func taskStep(_ file: String, overrides: [String]) throws -> (Step, String) {
        let recipe = try Recipe.load(file: file, overrides: overrides)
        guard recipe.model.kind == "mvdiffusion" else { throw ValidationError("--recipe \(file) is model.kind \(recipe.model.kind), not mvdiffusion") }
        let task = try TaskCatalog.make(recipe)
        let store = ParameterStore(model: task.model, seed: recipe.seed)
        guard let background = Background(rawValue: recipe.data.background) else { throw ValidationError("data.background of \(file) is not a background") }
        let data = try ShardedDataset(recipe.data.train, split: IdentitySplit.train)
        let assembler = BatchAssembler(dataset: data, selection: task.viewSelection, background: background, seed: recipe.seed)
        var scratch: [UInt8] = [], calls: UInt64 = 0
        let start = DistributedSampler.Cursor(epoch: 0, step: 0)
        let batch = try assembler.assemble(Array(0..<min(recipe.training.batchSizePerRank, data.count)), cursor: start, next: start, scratch: &scratch)
        let step: Step = (forward: {
            calls += 1
            var rng = Philox(seed: recipe.seed, stream: calls)
            return task.loss(on: batch, rng: &rng).loss
        }, backward: { loss in
            store.zeroGradients()
            Tape.shared.backward(loss, seed: Tensor(repeating: Float(batch.count), shape: loss.shape))
        })
        return (step, "\(recipe.runName)'s training step (\(batch.count) samples, optimizer and allreduce not counted)")
    }
}
