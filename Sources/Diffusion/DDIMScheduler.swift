import Tensors

/// diffusers' `DDIMScheduler` (Song et al., "Denoising Diffusion Implicit Models"): set the
/// timesteps, then `step` from each to the previous one; η = 0 is deterministic, η = 1 adds the
/// DDPM posterior's noise.
///
/// Mirrors diffusers 0.42, quirks included, so that a model sampled here and there gives the
/// same images: the previous timestep is always t − T div n, whatever the spacing (so `linspace`
/// steps from 999 to 899, not to 888); past t = 0 the step lands on ᾱ = 1 (`set_alpha_to_one`)
/// or ᾱ_0. Scalars are Float as diffusers' 0-d float32 tensors are, and rounded in its order:
/// step outputs match diffusers' within 1e-6 (more where a step divides by a small √ᾱ or
/// √(1−ᾱ), since PyTorch's float32 sqrt is not correctly rounded; see the fixture test).
public struct DDIMScheduler: NoiseScheduler {
    public let configuration: SchedulerConfiguration
    public let schedule: NoiseSchedule
    /// ᾱ after the last step.
    public let finalAlphaCumprod: Float
    /// Descending; all training timesteps until `setTimesteps` is called.
    public private(set) var timesteps: [Int]
    public private(set) var inferenceSteps: Int?

    public init(_ configuration: SchedulerConfiguration) throws {
        self.configuration = configuration
        schedule = try NoiseSchedule(configuration)
        finalAlphaCumprod = configuration.setAlphaToOne ? 1 : schedule.alphasCumprod[0]
        timesteps = Array((0..<configuration.numTrainTimesteps).reversed())
    }

    /// Chooses the `count` timesteps to sample with (diffusers' `set_timesteps`).
    public mutating func setTimesteps(_ count: Int) throws {
        timesteps = try inferenceTimesteps(count, configuration: configuration)
        inferenceSteps = count
    }

    /// The timestep a step from `t` lands on (negative: past the end, ᾱ = `finalAlphaCumprod`).
    public func previousTimestep(_ t: Int) -> Int {
        guard let n = inferenceSteps else { fatalError("DDIMScheduler.step before setTimesteps") }
        return t - configuration.numTrainTimesteps / n
    }

    /// ᾱ at `t`, or after the last step when t < 0.
    public func alphaCumprod(_ t: Int) -> Float { t >= 0 ? schedule.alphaCumprod(t) : finalAlphaCumprod }

    /// One step from `timestep` (diffusers' `step`). `varianceNoise` (standard normal, the
    /// sample's shape) is required when η > 0.
    public func step(modelOutput: Tensor, timestep: Int, sample: Tensor, eta: Float = 0,
                     useClippedModelOutput: Bool = false, varianceNoise: Tensor? = nil) -> SchedulerStepOutput {
        let alphaProduct = schedule.alphaCumprod(timestep), previousAlphaProduct = alphaCumprod(previousTimestep(timestep))
        let betaProduct = 1 - alphaProduct
        let type = configuration.predictionType
        let original = configuration.clipped(
            NoiseSchedule.originalSample(from: modelOutput, as: type, sample: sample, alphaCumprods: [alphaProduct]))
        let noise = useClippedModelOutput
            ? NoiseSchedule.noise(fromOriginal: original, sample: sample, signal: [alphaProduct.squareRoot()], noise: [betaProduct.squareRoot()])
            : NoiseSchedule.noise(from: modelOutput, as: type, sample: sample, alphaCumprods: [alphaProduct])
        let standardDeviation = eta * Self.variance(alphaCumprod: alphaProduct, previous: previousAlphaProduct).squareRoot()
        check(eta <= 0 || varianceNoise != nil, "DDIM with η = \(eta) needs variance noise")
        let previous = Self.update(original: original, noise: noise, previousAlphaCumprod: previousAlphaProduct,
                                   standardDeviation: standardDeviation, freshNoise: eta > 0 ? varianceNoise : nil)
        return SchedulerStepOutput(previousSample: previous, predictedOriginalSample: original)
    }

    /// The same step, drawing the variance noise (when η > 0) from `rng`.
    public func step(modelOutput: Tensor, timestep: Int, sample: Tensor, eta: Float, useClippedModelOutput: Bool = false,
                     rng: inout Philox) -> SchedulerStepOutput {
        let noise = eta > 0 ? Tensor.normal(modelOutput.shape, rng: &rng) : nil
        return step(modelOutput: modelOutput, timestep: timestep, sample: sample, eta: eta,
                    useClippedModelOutput: useClippedModelOutput, varianceNoise: noise)
    }

    /// σ²_t for η = 1: the DDPM posterior variance between the two steps,
    /// (1−ᾱ')/(1−ᾱ)·(1 − ᾱ/ᾱ').
    static func variance(alphaCumprod: Float, previous: Float) -> Float {
        ((1 - previous) / (1 - alphaCumprod)) * (1 - alphaCumprod / previous)
    }

    /// DDIM's update (Song et al. eq. 12): z' = √ᾱ'·x̂₀ + √(1−ᾱ'−σ²)·ε̂ + σ·z, in diffusers'
    /// order of rounding. At η = 1, σ² = 1−ᾱ' up to rounding when ᾱ = 0 (zero-terminal SNR), so
    /// 1−ᾱ'−σ² is floored at 0 where diffusers would take the root of a tiny negative (NaN).
    static func update(original: Tensor, noise: Tensor, previousAlphaCumprod: Float, standardDeviation: Float,
                       freshNoise: Tensor?) -> Tensor {
        var terms = [GroupwiseTerm([previousAlphaCumprod.squareRoot()], original),
                     GroupwiseTerm([max(0, 1 - previousAlphaCumprod - standardDeviation * standardDeviation).squareRoot()], noise)]
        if let freshNoise { terms.append(GroupwiseTerm([standardDeviation], freshNoise)) }
        return groupwiseCombination(terms)
    }
}
