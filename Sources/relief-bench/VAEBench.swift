import ArgumentParser
import Diffusion
import Foundation
import Layers
import Tensors

/// AutoencoderKL forward+backward at the vae-heads configuration, optionally side by side with
/// diffusers' in PyTorch (scripts/peers/vae_peer.py), the two alternated round by round so a
/// drifting machine slows both alike.
struct VAEBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae",
        abstract: "AutoencoderKL forward+backward step time; with --peer, against diffusers in PyTorch.")

    @Option(help: "Images per step.") var batch = 8
    @Option(help: "Height and width.") var size = 64
    @Option(help: "Comma-separated block widths.") var blockOutChannels = "32,64,64"
    @Option(help: "ResNets per encoder block.") var layersPerBlock = 1
    @Option(help: "Latent channels.") var latentChannels = 4
    @Option(help: "GroupNorm groups.") var groups = 16
    @Option(help: "Timed steps per round (after one warm-up).") var iterations = 5
    @Option(help: "Rounds (Relief then PyTorch in each).") var rounds = 3
    @Option(help: "Threads for both (default: all cores).") var threads: Int?
    @Option(help: "The PyTorch peer script; empty to skip.") var peer = "scripts/peers/vae_peer.py"

    func run() throws {
        if let threads { Parallel.threads = threads }
        var c = AutoencoderKLConfiguration()
        c.blockOutChannels = blockOutChannels.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        c.downBlockTypes = Array(repeating: "DownEncoderBlock2D", count: c.blockOutChannels.count)
        c.upBlockTypes = Array(repeating: "UpDecoderBlock2D", count: c.blockOutChannels.count)
        c.layersPerBlock = layersPerBlock
        c.latentChannels = latentChannels
        c.normNumGroups = groups
        let model = try AutoencoderKL(c)
        let store = ParameterStore(model: model, seed: 1)
        var rng = Philox(seed: 2)
        let x = Tensor.uniform([batch, 3, size, size], low: -1, high: 1, rng: &rng)
        print("vae: AutoencoderKL \(c.blockOutChannels), layers_per_block \(layersPerBlock), \(latentChannels) latent channels, "
              + "\(size)², B=\(batch); \(store.count) parameters; threads \(Parallel.threads); BLAS \(BLAS.coreName)")

        var reliefTimes: [Double] = [], peerTimes: [Double] = []
        for round in 1...rounds {
            var noise = Philox(seed: 3)
            let (f, b) = timeSteps(iterations, forward: {
                let p = model.posterior(x)
                let decoded = model.decoded(p.sample(rng: &noise))
                return l1Loss(decoded, x) + p.kl().mean() * 1e-6
            }, backward: { loss in
                store.zeroGradients()
                Tape.shared.backward(loss)
            })
            reliefTimes.append(f + b)
            var line = String(format: "round %d: Relief %.3f s (forward %.3f + backward %.3f)", round, f + b, f, b)
            if !peer.isEmpty, let seconds = try runPeer() {
                peerTimes.append(seconds)
                line += String(format: "   PyTorch %.3f s   Relief/PyTorch speed %.2f×", seconds, seconds / (f + b))
            }
            print(line)
        }
        if !peerTimes.isEmpty {
            print(String(format: "median: Relief %.3f s, PyTorch %.3f s per step: Relief is %.2f× PyTorch's speed",
                         median(reliefTimes), median(peerTimes), median(peerTimes) / median(reliefTimes)))
        }
    }

    /// The peer's best step seconds, or nil when it failed (runPeerScript says why).
    func runPeer() throws -> Double? {
        let json = try runPeerScript(peer, arguments: [
            "--threads", "\(Parallel.threads)", "--batch", "\(batch)", "--size", "\(size)",
            "--block-out-channels", blockOutChannels, "--layers-per-block", "\(layersPerBlock)",
            "--latent-channels", "\(latentChannels)", "--groups", "\(groups)", "--iterations", "\(iterations)"])
        return json?["best"] as? Double
    }
}
