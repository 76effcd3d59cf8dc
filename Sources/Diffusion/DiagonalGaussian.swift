import Tensors

/// The VAE encoder's posterior, diffusers' `DiagonalGaussianDistribution`: a Gaussian per latent
/// element whose mean and log-variance are the two halves (along channels) of the encoder's
/// moments. The log-variance is clamped to [−30, 20], as diffusers, so exp never overflows and a
/// collapsed channel keeps a finite KL. Every member records on the tape.
public struct DiagonalGaussian {
    /// [B, z, h, w]
    public let mean: Tensor
    /// [B, z, h, w], clamped to [−30, 20].
    public let logVariance: Tensor

    public static let logVarianceRange: ClosedRange<Float> = -30...20

    /// moments: [B, 2·z, h, w], mean first.
    public init(moments: Tensor) {
        check(moments.rank == 4 && moments.shape[1] % 2 == 0, "posterior moments must be [B, 2·z, h, w], got \(moments.shape)")
        let z = moments.shape[1] / 2
        mean = moments.sliced(axis: 1, range: 0..<z)
        logVariance = clamp(moments.sliced(axis: 1, range: z..<(2 * z)),
                            min: Self.logVarianceRange.lowerBound, max: Self.logVarianceRange.upperBound)
    }

    public var standardDeviation: Tensor { exp(logVariance * 0.5) }
    public var variance: Tensor { exp(logVariance) }

    /// The most likely latent (the mean).
    public var mode: Tensor { mean }

    /// mean + std·ε with ε ~ N(0, I) drawn from `rng` (reparameterised: gradients reach both).
    public func sample(rng: inout Philox) -> Tensor {
        mean + standardDeviation * Tensor.normal(mean.shape, rng: &rng)
    }

    /// KL(posterior ‖ N(0, I)) per sample, summed over latent elements: [B].
    public func kl() -> Tensor {
        ((square(mean) + variance - logVariance) - 1).sum(axes: [1, 2, 3]) * 0.5
    }
}
