import ArgumentParser
import Diffusion

/// How the multi-view diffusion stages sample, for every command that runs them.
struct SamplingOptions: ParsableArguments {
    @Option(help: "DDIM steps per diffusion stage.") var steps: Int = 20
    @Option(help: "Classifier-free guidance scale (1 = none).") var guidance: Float = 3
    @Option(help: "DDIM η (0 deterministic, 1 DDPM-like).") var eta: Float = 1
    @Option(help: "Random seed of the sampler.") var seed: UInt64 = 0

    /// The sampling, checked; a bad value is named by its option.
    func sampling() throws -> MultiViewDiffusionModel.Sampling {
        let sampling = MultiViewDiffusionModel.Sampling(steps: steps, guidance: guidance, eta: eta)
        do { try sampling.validate() } catch let error as DiffusionConfigurationError {
            throw ValidationError("--\(error.key) \(error.message)")
        }
        return sampling
    }

    /// "DDIM 20 steps, guidance 3.0, eta 1.0, seed 0".
    var summary: String { "DDIM \(steps) steps, guidance \(guidance), eta \(eta), seed \(seed)" }

    /// steps, guidance, eta and seed for a metrics file.
    var report: [String: Any] { ["steps": steps, "guidance": guidance, "eta": eta, "seed": seed] }
}
