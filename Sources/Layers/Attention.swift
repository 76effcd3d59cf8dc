import Tensors

/// Multi-head attention with diffusers' `Attention` names: `to_q`, `to_k`, `to_v` (no bias by
/// default), `to_out.0` (with bias). Three uses:
/// - self-attention: `attn(x)`;
/// - cross-attention: `attn(x, context: c)`, keys and values from `c` [B, M, contextDim];
/// - multi-view self-attention: `attn(x, views: V, multiView: mode)` with x [B·V, N, C], each
///   sample's V views contiguous: `MultiViewAttention` says which views' tokens each view's
///   queries attend to (all of them, as one sequence of V·N tokens, by default).
public final class Attention: Module {
    public let heads: Int
    public let headDimension: Int
    public let toQ: Linear
    public let toK: Linear
    public let toV: Linear
    public let toOut: Linear

    public init(queryDimension: Int, heads: Int, headDimension: Int, contextDimension: Int? = nil,
                bias: Bool = false, outBias: Bool = true) {
        check(heads > 0 && headDimension > 0, "Attention: \(heads) heads of width \(headDimension)")
        self.heads = heads
        self.headDimension = headDimension
        let inner = heads * headDimension
        toQ = Linear(queryDimension, inner, bias: bias)
        toK = Linear(contextDimension ?? queryDimension, inner, bias: bias)
        toV = Linear(contextDimension ?? queryDimension, inner, bias: bias)
        toOut = Linear(inner, queryDimension, bias: outBias)
    }

    public var namedChildren: [(String, any Module)] {
        [("to_q", toQ), ("to_k", toK), ("to_v", toV), ("to_out.0", toOut)]
    }

    /// x: [B, N, C] (or [B·V, N, C] with `views` V); context: [B, M, contextDim].
    public func callAsFunction(_ x: Tensor, context: Tensor? = nil, views: Int = 1,
                               multiView: MultiViewAttention = .dense) -> Tensor {
        check(x.rank == 3, "Attention expects [batch, tokens, channels], got \(x.shape)")
        check(views >= 1 && x.shape[0] % views == 0, "Attention: batch \(x.shape[0]) is not a multiple of \(views) views")
        check(context == nil || views == 1, "Attention: multi-view attention is self-attention only")
        if let context {
            check(context.rank == 3 && context.shape[0] == x.shape[0],
                  "Attention: context \(context.shape) for queries \(x.shape): expected [\(x.shape[0]), M, \(toK.inFeatures)]")
            return toOut(attention(toQ(x), toK(context), toV(context), heads: heads))
        }
        // Projections per token, before the views are regrouped: the same numbers in every mode.
        let (q, k, v) = (toQ(x), toK(x), toV(x))
        let y: Tensor   // [B·V, N, H·D]
        if views > 1 && multiView == .dense {
            let (b, n, inner) = (x.shape[0] / views, x.shape[1], q.shape[2])
            let joint = attention(q.reshaped([b, views * n, inner]), multiView.keys(k, views: views),
                                  multiView.keys(v, views: views), heads: heads)
            y = joint.reshaped([b * views, n, inner])
        } else {
            y = attention(q, multiView.keys(k, views: views), multiView.keys(v, views: views), heads: heads)
        }
        return toOut(y)
    }
}
