import Tensors

/// Per-sample weights of the denoising MSE.
///
/// Min-SNR-γ (Hang et al., "Efficient Diffusion Training via Min-SNR Weighting Strategy")
/// weights the x₀ error by min(SNR, γ). On the quantity the model predicts, as diffusers'
/// training scripts weight it: ‖x̂₀ − x₀‖² = ‖ε̂ − ε‖²/SNR = ‖v̂ − v‖²/(SNR + 1), so ε divides
/// by SNR and v by SNR + 1 (FaceLift's code divides v by SNR: weight 1 instead of ≈ SNR at the
/// noisiest steps).
public enum LossWeighting: Equatable, Sendable {
    /// Every sample weighs 1.
    case uniform
    /// min(SNR_t, γ) / (SNR_t | SNR_t + 1 | 1) for ε | v | x₀ prediction.
    case minSNR(gamma: Float)

    /// One weight per timestep, computed as diffusers' `compute_snr` and train_text_to_image.py.
    public func weights(timesteps: [Int], schedule: NoiseSchedule, predictionType: PredictionType) -> [Float] {
        switch self {
        case .uniform: return timesteps.map { _ in 1 }
        case .minSNR(let gamma):
            return timesteps.map { t in
                let snr = schedule.signalToNoiseRatio(t), clipped = min(snr, gamma)
                switch predictionType {
                case .epsilon: return clipped / snr
                case .velocity: return clipped / (snr + 1)
                case .sample: return clipped
                }
            }
        }
    }
}

/// mean over groups g of w_g · mean((prediction − target)²) over the group's elements:
/// diffusers' `(mse(reduction="none").mean(non-batch dims) * weights).mean()` with one weight
/// per group of leading rows (per sample, or per FaceLift sample of six views). Differentiable.
public func weightedMSELoss(_ prediction: Tensor, _ target: Tensor, weights: [Float]) -> Tensor {
    check(prediction.shape == target.shape, "weightedMSELoss: prediction \(prediction.shape) and target \(target.shape) differ")
    let groups = weights.count, rows = prediction.shape.first ?? 1
    check(groups >= 1 && rows % groups == 0, "weightedMSELoss: \(groups) weights for \(rows) rows")
    let perGroup = square(prediction - target).reshaped([groups, prediction.count / groups]).mean(axes: [1])
    return (perGroup * Tensor(weights, shape: [groups])).mean()
}
