import Foundation
import Tensors

/// ArcFace's additive angular margin loss (Deng et al. 2019; insightface's `ArcFace` head with
/// `easy_margin` off): with embeddings and class centres L2-normalised, cos θ_j = ⟨x, W_j⟩; the
/// target class's logit becomes cos(θ_y + m) where θ_y + m ≤ π, else cos θ_y − m·sin m (a
/// monotone continuation past π − m), every logit is scaled by s, and the loss is the softmax
/// cross-entropy, averaged over the images that count.
public struct AngularMarginLoss: Sendable {
    /// s: the radius of the hypersphere the logits live on.
    public var scale: Float
    /// m: the additive angular margin in radians.
    public var margin: Float

    public init(scale: Float = 64, margin: Float = 0.5) {
        check(scale > 0 && margin >= 0 && margin < .pi / 2, "AngularMarginLoss: scale \(scale) must be positive, margin \(margin) in [0, π/2)")
        self.scale = scale
        self.margin = margin
    }

    /// The loss of `embeddings` [N, D] (normalised here) whose classes are `labels` (each in
    /// 0..<C) against `centres` [C, D]. `weights` (N values ≥ 0, default all 1) weigh each image's
    /// cross-entropy; the result is Σ wᵢ·CEᵢ / Σ wᵢ (0 when every weight is 0).
    public func callAsFunction(embeddings: Tensor, centres: Tensor, labels: [Int], weights: [Float]? = nil) -> Tensor {
        let (n, classes) = (embeddings.shape.first ?? 0, centres.shape.first ?? 0)
        check(embeddings.rank == 2 && centres.rank == 2 && embeddings.shape[1] == centres.shape[1],
              "AngularMarginLoss needs embeddings [N, D] and centres [C, D], got \(embeddings.shape) and \(centres.shape)")
        check(labels.count == n, "AngularMarginLoss: \(labels.count) labels for \(n) embeddings")
        if let bad = labels.first(where: { $0 < 0 || $0 >= classes }) { check(false, "AngularMarginLoss: label \(bad) outside 0..<\(classes)") }
        let weights = weights ?? [Float](repeating: 1, count: n)
        check(weights.count == n && weights.allSatisfy { $0 >= 0 }, "AngularMarginLoss: needs \(n) weights ≥ 0, got \(weights.count)")

        var hot = [Float](repeating: 0, count: n * classes)
        for (i, label) in labels.enumerated() { hot[i * classes + label] = 1 }
        let oneHot = Tensor(hot, shape: [n, classes])
        let cosines = matmul(l2Normalized(embeddings), l2Normalized(centres), transposeB: true)
        let target = (cosines * oneHot).sum(axes: [1], keepDims: true)
        // The floor keeps sqrt's derivative finite at |cos| = 1, where the clamp passes no gradient anyway.
        let sine = sqrt(clamp(1 - square(target), min: 1e-12))
        let shifted = target * Float(Foundation.cos(Double(margin))) - sine * Float(Foundation.sin(Double(margin)))
        let threshold = Float(Foundation.cos(Double.pi - Double(margin)))
        let beyond = Float(Foundation.sin(Double.pi - Double(margin)) * Double(margin))
        let inRange = Tensor(target.scalars.map { $0 > threshold ? 1 : 0 }, shape: [n, 1])
        let marginal = select(where: inRange, shifted, target - beyond)
        let logits = (cosines + oneHot * (marginal - target)) * scale
        let crossEntropy = -(logSoftmax(logits) * oneHot).sum(axes: [1])
        let total = weights.reduce(0, +)
        return (crossEntropy * Tensor(weights, shape: [n])).sum() / max(total, .leastNormalMagnitude)
    }
}
