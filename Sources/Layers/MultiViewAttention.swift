import Tensors

/// How self-attention spans the V views of a sample when the batch holds B·V images, each
/// sample's views contiguous (x [B·V, N, C]). The same `to_q/to_k/to_v/to_out` weights serve every
/// mode; only which keys (and values) each view's queries see changes.
public enum MultiViewAttention: String, CaseIterable, Sendable, Codable {
    /// All V views' tokens of a sample attend as one sequence: [B·V, N, C] → [B, V·N, C]
    /// (the multi-view attention of FaceLift's paper, and its code without xformers).
    case dense
    /// Each view's queries attend to view 0's tokens followed by its own: keys [B·V, 2N, C]
    /// (FaceLift's trained path, `XFormersMVAttnProcessor` with `sparse_mv_attention`). View 0's
    /// keys are thus its own tokens twice; a key repeated k times beside its value repeated k
    /// times leaves softmax-weighted sums unchanged, so view 0 attends exactly as to its own
    /// tokens alone.
    case sparse
    /// Each view attends to its own tokens only (the ablation without multi-view attention).
    case none
}

extension MultiViewAttention {
    /// Keys (or values) [B·V, N, D] as this mode lays them out for each view's queries:
    /// dense [B, V·N, D] (queries regrouped the same way by the caller), sparse [B·V, 2N, D],
    /// none unchanged.
    func keys(_ k: Tensor, views: Int) -> Tensor {
        guard views > 1 else { return k }
        let (b, n, d) = (k.shape[0] / views, k.shape[1], k.shape[2])
        switch self {
        case .dense:
            return k.reshaped([b, views * n, d])
        case .sparse:
            let perView = k.reshaped([b, views, n, d])
            let front = perView.sliced(axis: 1, range: 0..<1).broadcast(to: [b, views, n, d])
            return concat([front, perView], axis: 2).reshaped([b * views, 2 * n, d])
        case .none:
            return k
        }
    }
}
