import Tensors

/// Multi-head attention with diffusers' `Attention` names: `to_q`, `to_k`, `to_v` (no bias by
/// default), `to_out.0` (with bias). Three uses:
/// - self-attention: `attn(x)`;
/// - cross-attention: `attn(x, context: c)`, keys and values from `c` [B, M, contextDim];
/// - multi-view self-attention: `attn(x, views: V)` with x [B·V, N, C]: the tokens of all V views
///   of one sample attend jointly, as one sequence of V·N tokens (FaceLift's multi-view blocks).
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
    public func callAsFunction(_ x: Tensor, context: Tensor? = nil, views: Int = 1) -> Tensor {
        check(x.rank == 3, "Attention expects [batch, tokens, channels], got \(x.shape)")
        check(views >= 1 && x.shape[0] % views == 0, "Attention: batch \(x.shape[0]) is not a multiple of \(views) views")
        check(context == nil || views == 1, "Attention: multi-view attention is self-attention only")
        let (b, n, c) = (x.shape[0] / views, x.shape[1] * views, x.shape[2])
        let tokens = views == 1 ? x : x.reshaped([b, n, c])
        let source = context ?? tokens
        check(source.rank == 3 && source.shape[0] == b,
              "Attention: context \(source.shape) for queries \(tokens.shape): expected [\(b), M, \(toK.inFeatures)]")
        let y = attention(toQ(tokens), toK(source), toV(source), heads: heads)   // [B, N, H·D]
        let out = toOut(y)
        return views == 1 ? out : out.reshaped([b * views, n / views, c])
    }
}

