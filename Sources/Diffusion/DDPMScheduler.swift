import Foundation
import Tensors

/// diffusers' `DDPMScheduler` (Ho et al.): the ancestral sampler, each step drawing from the
/// posterior q(z_{t'} | z_t, x̂₀) with the variance `variance_type` names.
///
/// Before `setTimesteps` a step goes from t to t − 1; after it, to the next timestep in the
/// list (past the last one, to ᾱ = 1). Scalars are Float as diffusers' 0-d float32 tensors
/// are; given the same noise, step outputs match diffusers' within 1e-6 (as for DDIM).
public struct DDPMScheduler: NoiseScheduler {
    public let configuration: SchedulerConfiguration
    public let schedule: NoiseSchedule
    /// Descending; all training timesteps until `setTimesteps` is called.
    public private(set) var timesteps: [Int]
    public private(set) var inferenceSteps: Int?

    public init(_ configuration: SchedulerConfiguration) throws {
        self.configuration = configuration
        schedule = try NoiseSchedule(configuration)
        timesteps = Array((0..<configuration.numTrainTimesteps).reversed())
    }

    /// Chooses the `count` timesteps to sample with (diffusers' `set_timesteps`).
    public mutating func setTimesteps(_ count: Int) throws {
        timesteps = try inferenceTimesteps(count, configuration: configuration)
        inferenceSteps = count
    }

    /// The timestep a step from `t` lands on; −1 past the end.
    public func previousTimestep(_ t: Int) -> Int {
        guard inferenceSteps != nil else { return t - 1 }
        guard let index = timesteps.firstIndex(of: t) else {
            fatalError("DDPM step from timestep \(t), which is not one of the \(timesteps.count) set")
        }
        return index + 1 < timesteps.count ? timesteps[index + 1] : -1
    }

    /// One ancestral step from `timestep` (diffusers' `step`); `noise` (standard normal, the
    /// sample's shape) is required unless `timestep` is 0, where no noise is added.
    public func step(modelOutput: Tensor, timestep t: Int, sample: Tensor, noise: Tensor?) -> SchedulerStepOutput {
        let previous = previousTimestep(t)
        let alphaProduct = schedule.alphaCumprod(t), previousAlphaProduct = previous >= 0 ? schedule.alphaCumprod(previous) : 1
        let betaProduct = 1 - alphaProduct, previousBetaProduct = 1 - previousAlphaProduct
        let currentAlpha = alphaProduct / previousAlphaProduct, currentBeta = 1 - currentAlpha
        let original = configuration.clipped(NoiseSchedule.originalSample(
            from: modelOutput, as: configuration.predictionType, sample: sample, alphaCumprods: [alphaProduct]))
        // The posterior mean μ̃(z_t, x̂₀) (Ho et al. eq. 7).
        let originalCoefficient = (previousAlphaProduct.squareRoot() * currentBeta) / betaProduct
        let sampleCoefficient = currentAlpha.squareRoot() * previousBetaProduct / betaProduct
        var terms = [GroupwiseTerm([originalCoefficient], original), GroupwiseTerm([sampleCoefficient], sample)]
        if t > 0 {
            guard let noise else { fatalError("DDPM step from timestep \(t) needs noise") }
            let posteriorVariance = max(previousBetaProduct / betaProduct * currentBeta, 1e-20)
            let standardDeviation: Float = switch configuration.varianceType {
            case .fixedSmall: posteriorVariance.squareRoot()
            case .fixedSmallLog: exp(0.5 * log(posteriorVariance))
            case .fixedLarge: currentBeta.squareRoot()
            }
            terms.append(GroupwiseTerm([standardDeviation], noise))
        }
        return SchedulerStepOutput(previousSample: groupwiseCombination(terms), predictedOriginalSample: original)
    }

    /// The same step, drawing its noise from `rng` (nothing is drawn at timestep 0).
    public func step(modelOutput: Tensor, timestep: Int, sample: Tensor, rng: inout Philox) -> SchedulerStepOutput {
        let noise = timestep > 0 ? Tensor.normal(modelOutput.shape, rng: &rng) : nil
        return step(modelOutput: modelOutput, timestep: timestep, sample: sample, noise: noise)
    }
}
