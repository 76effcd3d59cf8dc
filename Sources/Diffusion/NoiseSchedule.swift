import Tensors

/// The forward process's tables: β_t, α_t = 1 − β_t and ᾱ_t = ∏_{s≤t} α_s for the training
/// timesteps t = 0 ..< T, with z_t = √ᾱ_t·z_0 + √(1−ᾱ_t)·ε.
///
/// Float32 as diffusers holds them, computed the way PyTorch does on the CPU, so that the
/// samplers reproduce diffusers' steps to float rounding: betas and alphas in Float, the
/// cumulative product accumulated in Double (`torch.cumprod`'s CPU accumulator for float32)
/// and each partial product rounded to Float, the zero-terminal-SNR rescale op by op in Float.
public struct NoiseSchedule: Equatable, Sendable {
    public let betas: [Float]
    public let alphas: [Float]
    public let alphasCumprod: [Float]

    public var trainTimesteps: Int { betas.count }

    /// The schedule `configuration` describes (validated first).
    public init(_ configuration: SchedulerConfiguration) throws {
        try configuration.validate()
        var betas = configuration.trainedBetas.map { $0.map { Float($0) } }
            ?? configuration.betaSchedule.betas(count: configuration.numTrainTimesteps,
                                                start: configuration.betaStart, end: configuration.betaEnd)
        if configuration.rescaleBetasZeroSNR { betas = Self.rescaledToZeroTerminalSNR(betas) }
        self.init(betas: betas)
    }

    public init(betas: [Float]) {
        check(!betas.isEmpty, "a noise schedule needs at least one beta")
        self.betas = betas
        alphas = betas.map { 1 - $0 }
        alphasCumprod = Self.cumulativeProduct(alphas)
    }

    /// `torch.cumprod` of a float32 tensor on the CPU: a Double running product, each prefix
    /// rounded to Float.
    static func cumulativeProduct(_ values: [Float]) -> [Float] {
        var product = 1.0
        return values.map { product *= Double($0); return Float(product) }
    }

    /// diffusers' `rescale_zero_terminal_snr`: shifts and scales √ᾱ so that it keeps its first
    /// value and ends at exactly 0 (ᾱ_{T−1} = 0, β_{T−1} = 1), then turns it back into betas.
    public static func rescaledToZeroTerminalSNR(_ betas: [Float]) -> [Float] {
        var roots = cumulativeProduct(betas.map { 1 - $0 }).map { $0.squareRoot() }
        let first = roots[0], last = roots[roots.count - 1]
        let scale = first / (first - last)
        for i in roots.indices { roots[i] = (roots[i] - last) * scale }
        let cumulative = roots.map { $0 * $0 }
        return cumulative.indices.map { i in 1 - (i == 0 ? cumulative[0] : cumulative[i] / cumulative[i - 1]) }
    }

    /// ᾱ_t, checking that t is a training timestep.
    @inline(__always)
    public func alphaCumprod(_ t: Int) -> Float {
        check(t >= 0 && t < alphasCumprod.count, "timestep \(t) outside the \(alphasCumprod.count) training steps")
        return alphasCumprod[t]
    }

    /// SNR(t) = ᾱ_t / (1 − ᾱ_t), computed as diffusers' `compute_snr` does: (√ᾱ / √(1−ᾱ))²;
    /// 0 at a zero-terminal-SNR schedule's last step.
    public func signalToNoiseRatio(_ t: Int) -> Float {
        let a = alphaCumprod(t)
        let ratio = a.squareRoot() / (1 - a).squareRoot()
        return ratio * ratio
    }
}
