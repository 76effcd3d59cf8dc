import Tensors

/// ID-TS's two-stage residual denoising (`papers/id-ts-two-stage-diffusion.txt` §3.3, as its
/// authors' code and DS-VTON implement it; /work/shared/DIFFUSION.md): the high-resolution
/// stage diffuses towards a blend of fresh noise and the upsampled low-resolution result,
///
///   n = ξ1·ε + ξ2·j̄,   z_t = √ᾱ_t·z_0 + √(1−ᾱ_t)·n,   target v = √ᾱ_t·n − √(1−ᾱ_t)·z_0,
///
/// where j̄ is the (scaled) VAE latent of the stage-1 outputs upsampled in pixel space and
/// ε ~ N(0, I). From a predicted v̂: x̂_0 = √ᾱ_t·z_t − √(1−ᾱ_t)·v̂ and n̂ = √(1−ᾱ_t)·z_t + √ᾱ_t·v̂.
/// With a zero-terminal-SNR schedule the sampler starts at exactly z_T = n.
///
/// Sampling is DDIM on n (deterministic), or the exact stochastic variant that re-noises only
/// the ε part and so keeps every state on the training distribution; the paper's ancestral step
/// (its eq. 3) adds unit noise and lets the j̄ share decay, and is not offered. With ξ = (1, 0)
/// everything is plain v-prediction DDPM/DDIM.
public struct TwoStageResidualProcess {
    public let schedule: NoiseSchedule
    /// ξ1, the weight of the fresh noise ε in n (paper 0.4, the authors' code 0.5).
    public let noiseWeight: Float
    /// ξ2, the weight of the low-resolution latent j̄ in n (paper 0.6, the authors' code 0.5).
    public let lowResolutionWeight: Float
    /// ᾱ after the last step: 1 returns x̂_0 itself.
    public let finalAlphaCumprod: Float

    public init(schedule: NoiseSchedule, noiseWeight: Float = 0.4, lowResolutionWeight: Float = 0.6,
                finalAlphaCumprod: Float = 1) throws {
        guard noiseWeight > 0, noiseWeight.isFinite else {
            throw DiffusionConfigurationError(key: "xi1", message: "(the noise weight) is \(noiseWeight); needs a positive number")
        }
        guard lowResolutionWeight >= 0, lowResolutionWeight.isFinite else {
            throw DiffusionConfigurationError(key: "xi2", message: "(the low-resolution weight) is \(lowResolutionWeight); needs a number ≥ 0")
        }
        guard finalAlphaCumprod > 0, finalAlphaCumprod <= 1 else {
            throw DiffusionConfigurationError(key: "final_alpha_cumprod", message: "is \(finalAlphaCumprod); needs 0 < ᾱ ≤ 1")
        }
        self.schedule = schedule
        self.noiseWeight = noiseWeight
        self.lowResolutionWeight = lowResolutionWeight
        self.finalAlphaCumprod = finalAlphaCumprod
    }

    /// The process over a DDIM scheduler's schedule, ending where it ends (`set_alpha_to_one`).
    public init(scheduler: DDIMScheduler, noiseWeight: Float = 0.4, lowResolutionWeight: Float = 0.6) throws {
        try self.init(schedule: scheduler.schedule, noiseWeight: noiseWeight, lowResolutionWeight: lowResolutionWeight,
                      finalAlphaCumprod: scheduler.finalAlphaCumprod)
    }

    /// ᾱ at `t`, or after the last step when t < 0.
    func alphaCumprod(_ t: Int) -> Float { t >= 0 ? schedule.alphaCumprod(t) : finalAlphaCumprod }

    /// n = ξ1·ε + ξ2·j̄.
    public func blendedNoise(noise: Tensor, lowResolution: Tensor) -> Tensor {
        groupwiseCombination([GroupwiseTerm([noiseWeight], noise), GroupwiseTerm([lowResolutionWeight], lowResolution)])
    }

    /// z_t = √ᾱ_t·z_0 + √(1−ᾱ_t)·n, a timestep per group of leading rows (see `NoiseSchedule`).
    public func noisyLatent(clean: Tensor, blendedNoise: Tensor, timesteps: [Int]) -> Tensor {
        schedule.addNoise(to: clean, noise: blendedNoise, timesteps: timesteps)
    }

    /// The training target v = √ᾱ_t·n − √(1−ᾱ_t)·z_0.
    public func velocityTarget(clean: Tensor, blendedNoise: Tensor, timesteps: [Int]) -> Tensor {
        schedule.velocity(original: clean, noise: blendedNoise, timesteps: timesteps)
    }

    /// x̂_0 = √ᾱ_t·z_t − √(1−ᾱ_t)·v̂.
    public func predictedClean(velocity: Tensor, sample: Tensor, timesteps: [Int]) -> Tensor {
        schedule.originalSample(from: velocity, as: .velocity, sample: sample, timesteps: timesteps)
    }

    /// n̂ = √(1−ᾱ_t)·z_t + √ᾱ_t·v̂.
    public func predictedBlendedNoise(velocity: Tensor, sample: Tensor, timesteps: [Int]) -> Tensor {
        schedule.noise(from: velocity, as: .velocity, sample: sample, timesteps: timesteps)
    }

    /// Deterministic DDIM on n: z_{t'} = √ᾱ_{t'}·x̂_0 + √(1−ᾱ_{t'})·n̂. `previousTimestep` < 0
    /// ends the chain (ᾱ = `finalAlphaCumprod`; with 1 the result is x̂_0).
    public func step(velocity: Tensor, timestep: Int, previousTimestep: Int, sample: Tensor) -> SchedulerStepOutput {
        let alpha = [schedule.alphaCumprod(timestep)]
        let original = NoiseSchedule.originalSample(from: velocity, as: .velocity, sample: sample, alphaCumprods: alpha)
        let noise = NoiseSchedule.noise(from: velocity, as: .velocity, sample: sample, alphaCumprods: alpha)
        let previous = DDIMScheduler.update(original: original, noise: noise, previousAlphaCumprod: alphaCumprod(previousTimestep),
                                            standardDeviation: 0, freshNoise: nil)
        return SchedulerStepOutput(previousSample: previous, predictedOriginalSample: original)
    }

    /// The exact stochastic step: only the ε part of n̂ is re-noised, with DDIM's σ = η·σ_t,
    ///   z_{t'} = √ᾱ_{t'}·x̂_0 + √(1−ᾱ_{t'})·ξ2·j̄ + ξ1·(√(1−ᾱ_{t'}−σ²)·ε̂ + σ·z),  ε̂ = (n̂ − ξ2·j̄)/ξ1,
    /// so the state keeps the j̄ share ξ2·√(1−ᾱ_{t'}) and residual noise ξ1·√(1−ᾱ_{t'}). Evaluated
    /// as √ᾱ'·x̂_0 + √(1−ᾱ'−σ²)·n̂ + ξ2·(√(1−ᾱ') − √(1−ᾱ'−σ²))·j̄ + ξ1·σ·z (no division by ξ1;
    /// at ξ = (1, 0) these are diffusers' DDIM terms in diffusers' order). `noise` z is standard
    /// normal, the sample's shape.
    public func stochasticStep(velocity: Tensor, timestep: Int, previousTimestep: Int, sample: Tensor,
                               lowResolution: Tensor, eta: Float, noise: Tensor) -> SchedulerStepOutput {
        let alphaProduct = schedule.alphaCumprod(timestep), previousAlphaProduct = alphaCumprod(previousTimestep)
        let original = NoiseSchedule.originalSample(from: velocity, as: .velocity, sample: sample, alphaCumprods: [alphaProduct])
        let blended = NoiseSchedule.noise(from: velocity, as: .velocity, sample: sample, alphaCumprods: [alphaProduct])
        let sigma = eta * DDIMScheduler.variance(alphaCumprod: alphaProduct, previous: previousAlphaProduct).squareRoot()
        let kept = max(0, 1 - previousAlphaProduct - sigma * sigma).squareRoot(), full = (1 - previousAlphaProduct).squareRoot()
        let previous = groupwiseCombination([
            GroupwiseTerm([previousAlphaProduct.squareRoot()], original),
            GroupwiseTerm([kept], blended),
            GroupwiseTerm([noiseWeight * sigma], noise),
            GroupwiseTerm([lowResolutionWeight * (full - kept)], lowResolution),
        ])
        return SchedulerStepOutput(previousSample: previous, predictedOriginalSample: original)
    }

    /// Runs the sampler from `start` (z_T: `noisyLatent` at the first timestep, or exactly n under
    /// zero-terminal SNR) through `timesteps` (descending), each step landing on the next one;
    /// `denoiser(z_t, t)` returns v̂. η = 0 is the deterministic DDIM on n, η > 0 the stochastic
    /// variant with its noise drawn from `rng`. Returns the last step's x̂_0.
    public func sample(from start: Tensor, timesteps: [Int], lowResolution: Tensor, eta: Float = 0, rng: inout Philox,
                       denoiser: (Tensor, Int) -> Tensor) -> Tensor {
        check(!timesteps.isEmpty, "two-stage sampling needs at least one timestep")
        var z = start, original = start
        for (i, t) in timesteps.enumerated() {
            let previous = i + 1 < timesteps.count ? timesteps[i + 1] : -1
            let velocity = denoiser(z, t)
            let output = eta > 0
                ? stochasticStep(velocity: velocity, timestep: t, previousTimestep: previous, sample: z, lowResolution: lowResolution,
                                 eta: eta, noise: Tensor.normal(z.shape, rng: &rng))
                : step(velocity: velocity, timestep: t, previousTimestep: previous, sample: z)
            (z, original) = (output.previousSample, output.predictedOriginalSample)
        }
        return original
    }
}
