import Layers
import Tensors

/// torch.nn.BatchNorm1d without affine parameters on the embedding, as ArcFace's heads end
/// (`features`, its scale fixed at 1): in training each dimension is standardised over the
/// batch, which removes what every image's embedding shares — without it a freshly initialised
/// encoder maps all faces to nearly one direction (held-out cosines ≈ 0.99) and the angular
/// margin loss barely moves them apart; at inference the running statistics stand in.
/// The running statistics are parameters the optimizer never touches (`requiresGradient`
/// false), so they travel in checkpoints and the EMA; each rank updates its own from its batches.
public final class EmbeddingBatchNorm: Module {
    public let runningMean: Parameter
    public let runningVariance: Parameter
    /// PyTorch's defaults.
    public let momentum: Float = 0.1
    public let epsilon: Float = 1e-5

    public init(features: Int) {
        runningMean = Parameter(shape: [features], initializer: .zeros)
        runningVariance = Parameter(shape: [features], initializer: .ones)
        runningMean.requiresGradient = false
        runningVariance.requiresGradient = false
    }

    public var namedParameters: [(String, Parameter)] { [("running_mean", runningMean), ("running_var", runningVariance)] }

    /// x [N, D]. With `training`, standardised by the batch's statistics (population variance,
    /// N ≥ 2), which update the running ones (unbiased variance) as PyTorch does; else by the
    /// running statistics.
    public func callAsFunction(_ x: Tensor, training: Bool) -> Tensor {
        check(x.rank == 2 && x.shape[1] == runningMean.count, "EmbeddingBatchNorm(\(runningMean.count)) got \(x.shape)")
        guard training else {
            return (x - runningMean.value.reshaped([1, x.shape[1]])) / sqrt(runningVariance.value.reshaped([1, x.shape[1]]) + epsilon)
        }
        let n = x.shape[0]
        check(n >= 2, "EmbeddingBatchNorm needs at least 2 images in a training batch, got \(n)")
        let mean = x.mean(axes: [0], keepDims: true)
        let variance = x.variance(axes: [0], correction: 0, keepDims: true)
        withoutGradients {
            let (m, v) = (runningMean.value.storage.base, runningVariance.value.storage.base)
            let unbiased = Float(n) / Float(n - 1)
            for d in 0..<runningMean.count {
                m[d] = (1 - momentum) * m[d] + momentum * mean[flat: d]
                v[d] = (1 - momentum) * v[d] + momentum * variance[flat: d] * unbiased
            }
        }
        return (x - mean) / sqrt(variance + epsilon)
    }
}
