import ArgumentParser
import Diffusion
import Foundation
import Identity
import Layers
import Tensors

/// The identity encoder's cost inside multi-view diffusion training (issue 15's bar: its forward
/// on the six views at 64² under 5% of a diffusion training step): the encoder's forward on six
/// 64² images, against the low-stage UNet's forward+backward (`relief-bench unet --stage low`'s
/// step, 2 samples × 6 views) alternated with it. The UNet step is only part of a training step
/// (the VAE encoding and condition encoder come on top), so the share printed is an upper bound.
struct IdentityBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identity",
        abstract: "Identity encoder forward on six 64² views, as a share of a low-stage diffusion UNet training step.",
        discussion: """
            --checkpoint takes a model.kind identity run or step folder (its configuration and weights); without it \
            the encoder of recipes/identity-guidance.yaml is built with random weights (the cost does not depend \
            on them).
            """)

    @Option(help: "An identity encoder run or step folder (default: identity-guidance.yaml's configuration).") var checkpoint: String?
    @Option(help: "Timed repetitions of each (after one warm-up), alternated.") var iterations = 10
    @Option(help: "Threads (default: all cores).") var threads: Int?

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
        let unet = try UNetBench.parse(["--stage", "low"])
        let workload = UNetBench.Workload(unet: unet.stageConfiguration, samples: 2, views: 6, size: 8, multiView: .dense)
        let model = UNet2DConditionModel(configuration: workload.unet)
        let store = ParameterStore(model: model, seed: 1)
        var rng = Philox(seed: 3)
        let x = workload.inputs(rng: &rng)
        let views = Tensor.uniform([6, 3, 64, 64], rng: &rng)
        let c = encoder.configuration
        print("identity: encoder \(c.blockOutChannels) at \(c.resolution)², \(c.embeddingDimension)-d, \(encoder.parameterCount) parameters; "
              + "UNet low stage \(workload.unet.blockOutChannels), 2 samples × 6 views at 8²; threads \(Parallel.threads); BLAS \(BLAS.coreName)")

        func seconds(_ body: () -> Void) -> Double {
            let start = Clock.now
            body()
            return Clock.seconds(since: start)
        }
        func encode() { _ = withoutGradients { encoder(views) } }
        func step() -> Double {
            let (f, b) = timeStep(forward: {
                square(model(x.sample, timesteps: x.timesteps, encoderHiddenStates: x.states, classLabels: x.labels,
                             views: 6, multiView: .dense)).mean()
            }, backward: { loss in
                store.zeroGradients()
                Tape.shared.backward(loss)
            })
            return f + b
        }
        encode()
        _ = step()
        var encoderTimes: [Double] = [], stepTimes: [Double] = []
        for _ in 0..<max(iterations, 1) {
            encoderTimes.append(seconds(encode))
            stepTimes.append(step())
        }
        func median(_ x: [Double]) -> Double { x.sorted()[x.count / 2] }
        let (e, s) = (median(encoderTimes), median(stepTimes))
        print(String(format: "encoder forward on 6 views at 64²: median %.2f ms; UNet training step: median %.3f s; share %.2f%% (bar < 5%%)",
                     e * 1000, s, 100 * e / s))
    }
}
