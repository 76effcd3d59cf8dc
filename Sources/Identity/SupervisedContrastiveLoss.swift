import Foundation
import Tensors

/// The supervised contrastive loss (Khosla et al. 2020, L^sup_out; `pytorch-metric-learning`'s
/// `SupConLoss`): with embeddings L2-normalised and s_ij = ⟨x_i, x_j⟩ / τ, each anchor i that has
/// positives P(i) (other images of its label) costs
///
///     −1/|P(i)| · Σ_{p ∈ P(i)} log( exp s_ip / Σ_{a ≠ i} exp s_ia ),
///
/// and the loss is the mean over such anchors. Unlike the angular margin loss it has no class
/// centres: every pair in the batch teaches directly what verification asks (same identity
/// near, others far), which matters when there are many identities and few images of each.
/// Images whose label is nil take no part (neither anchor, positive nor negative).
public struct SupervisedContrastiveLoss: Sendable {
    /// τ: the softmax temperature over cosine similarities.
    public var temperature: Float

    public init(temperature: Float = 0.1) {
        check(temperature > 0, "SupervisedContrastiveLoss: temperature \(temperature) must be positive")
        self.temperature = temperature
    }

    /// `embeddings` [N, D] (normalised here), `labels` N class labels (nil: left out). 0 when no
    /// image has a positive.
    public func callAsFunction(embeddings: Tensor, labels: [Int?]) -> Tensor {
        let n = embeddings.shape.first ?? 0
        check(embeddings.rank == 2, "SupervisedContrastiveLoss needs embeddings [N, D], got \(embeddings.shape)")
        check(labels.count == n, "SupervisedContrastiveLoss: \(labels.count) labels for \(n) embeddings")
        // Excluded entries (self pairs, unlabelled images) get a logit far below any cosine / τ,
        // so exp underflows to exactly 0 in the softmax.
        let excluded: Float = -1e4 - 2 / temperature
        var shift = [Float](repeating: 0, count: n * n), positives = [Float](repeating: 0, count: n * n)
        var anchors = 0
        for i in 0..<n {
            guard let li = labels[i] else { continue }
            let count = (0..<n).filter { $0 != i && labels[$0] == li }.count
            if count > 0 { anchors += 1 }
            for j in 0..<n {
                if j == i || labels[j] == nil { shift[i * n + j] = excluded } else if labels[j] == li { positives[i * n + j] = 1 / Float(count) }
            }
        }
        guard anchors > 0 else { return (embeddings * 0).sum() }
        let x = l2Normalized(embeddings)
        let logits = matmul(x, x, transposeB: true) / temperature + Tensor(shift, shape: [n, n])
        return -(logSoftmax(logits) * Tensor(positives, shape: [n, n])).sum() / Float(anchors)
    }
}
