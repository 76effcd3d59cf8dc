import Tensors

/// The forward process and the conversions between what a denoiser may predict (ε, v, x₀),
/// given the noisy sample z_t and its timestep, on whole tensors.
///
/// Timesteps: `timesteps` holds one timestep per group of leading rows — as many as the batch
/// has samples (each its own t), or fewer when consecutive rows share one: FaceLift's batch of
/// B·6 views takes B timesteps, each sample's six views sharing theirs. The leading axis must
/// divide evenly (see `groupwiseCombination`). The results record on the autodiff tape when an
/// input is tracked (e.g. x̂₀ from a predicted v̂, for a loss on the decoded prediction).
///
/// Formulas and their Float rounding follow diffusers (`add_noise`, `get_velocity`, the
/// schedulers' `step`): with a = √ᾱ_t and b = √(1−ᾱ_t),
///   z_t = a·x₀ + b·ε,  v = a·ε − b·x₀,
///   x₀ = (z − b·ε̂)/a | x̂₀ | a·z − b·v̂,   ε = ε̂ | (z − a·x̂₀)/b | a·v̂ + b·z.
extension NoiseSchedule {
    /// √ᾱ_t and √(1−ᾱ_t) for each group's timestep.
    func scales(_ timesteps: [Int]) -> (signal: [Float], noise: [Float]) {
        Self.scales(alphaCumprods: timesteps.map(alphaCumprod))
    }

    static func scales(alphaCumprods: [Float]) -> (signal: [Float], noise: [Float]) {
        (alphaCumprods.map { $0.squareRoot() }, alphaCumprods.map { (1 - $0).squareRoot() })
    }

    /// diffusers' `add_noise`: z_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε.
    public func addNoise(to original: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        let (a, b) = scales(timesteps)
        return groupwiseCombination([GroupwiseTerm(a, original), GroupwiseTerm(b, noise)])
    }

    /// diffusers' `get_velocity`: the v-prediction target v = √ᾱ_t·ε − √(1−ᾱ_t)·x₀.
    public func velocity(original: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        let (a, b) = scales(timesteps)
        return groupwiseCombination([GroupwiseTerm(a, noise), GroupwiseTerm(b.map { -$0 }, original)])
    }

    /// The training target for a model that predicts `type`.
    public func target(for type: PredictionType, original: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        switch type {
        case .epsilon: noise
        case .sample: original
        case .velocity: velocity(original: original, noise: noise, timesteps: timesteps)
        }
    }

    /// x̂₀ from a model output of type `type` at the noisy `sample`.
    public func originalSample(from output: Tensor, as type: PredictionType, sample: Tensor, timesteps: [Int]) -> Tensor {
        Self.originalSample(from: output, as: type, sample: sample, alphaCumprods: timesteps.map(alphaCumprod))
    }

    /// ε̂ from a model output of type `type` at the noisy `sample`.
    public func noise(from output: Tensor, as type: PredictionType, sample: Tensor, timesteps: [Int]) -> Tensor {
        Self.noise(from: output, as: type, sample: sample, alphaCumprods: timesteps.map(alphaCumprod))
    }

    /// v̂ from a model output of type `type`: √ᾱ·ε̂ − √(1−ᾱ)·x̂₀.
    public func velocity(from output: Tensor, as type: PredictionType, sample: Tensor, timesteps: [Int]) -> Tensor {
        if type == .velocity { return output }
        let alphaCumprods = timesteps.map(alphaCumprod)
        let (a, b) = Self.scales(alphaCumprods: alphaCumprods)
        let x0 = Self.originalSample(from: output, as: type, sample: sample, alphaCumprods: alphaCumprods)
        let eps = Self.noise(from: output, as: type, sample: sample, alphaCumprods: alphaCumprods)
        return groupwiseCombination([GroupwiseTerm(a, eps), GroupwiseTerm(b.map { -$0 }, x0)])
    }

    /// `output` of type `from` as a prediction of type `to`.
    public func convert(_ output: Tensor, from: PredictionType, to: PredictionType, sample: Tensor, timesteps: [Int]) -> Tensor {
        switch to {
        case from: output
        case .sample: originalSample(from: output, as: from, sample: sample, timesteps: timesteps)
        case .epsilon: noise(from: output, as: from, sample: sample, timesteps: timesteps)
        case .velocity: velocity(from: output, as: from, sample: sample, timesteps: timesteps)
        }
    }

    static func originalSample(from output: Tensor, as type: PredictionType, sample: Tensor, alphaCumprods: [Float]) -> Tensor {
        let (a, b) = scales(alphaCumprods: alphaCumprods)
        let one = [Float](repeating: 1, count: a.count)
        switch type {
        case .epsilon: return groupwiseCombination([GroupwiseTerm(one, sample), GroupwiseTerm(b.map { -$0 }, output)], dividedBy: a)
        case .sample: return output
        case .velocity: return groupwiseCombination([GroupwiseTerm(a, sample), GroupwiseTerm(b.map { -$0 }, output)])
        }
    }

    static func noise(from output: Tensor, as type: PredictionType, sample: Tensor, alphaCumprods: [Float]) -> Tensor {
        let (a, b) = scales(alphaCumprods: alphaCumprods)
        switch type {
        case .epsilon: return output
        case .sample: return noise(fromOriginal: output, sample: sample, signal: a, noise: b)
        case .velocity: return groupwiseCombination([GroupwiseTerm(a, output), GroupwiseTerm(b, sample)])
        }
    }

    /// ε = (z − √ᾱ·x₀)/√(1−ᾱ).
    static func noise(fromOriginal original: Tensor, sample: Tensor, signal a: [Float], noise b: [Float]) -> Tensor {
        groupwiseCombination([GroupwiseTerm([Float](repeating: 1, count: a.count), sample), GroupwiseTerm(a.map { -$0 }, original)],
                             dividedBy: b)
    }
}
