import Tensors

/// Pre-LayerNorm transformer block with diffusers' `BasicTransformerBlock` names
/// (norm_type "layer_norm"): `norm1`/`attn1` self-attention, optional `norm2`/`attn2`
/// cross-attention, `norm3`/`ff` feed-forward, each with a residual connection.
/// With `views` > 1 the self-attention is multi-view (`multiView`, see `Attention`); the
/// cross-attention always runs per image.
public final class TransformerBlock: Module {
    public let norm1: LayerNorm
    public let attn1: Attention
    public let norm2: LayerNorm?
    public let attn2: Attention?
    public let norm3: LayerNorm
    public let ff: FeedForward

    public init(dimension: Int, heads: Int, headDimension: Int, contextDimension: Int? = nil,
                activation: FeedForward.Activation = .geglu, multiplier: Int = 4, epsilon: Float = 1e-5) {
        norm1 = LayerNorm(dimension, epsilon: epsilon)
        attn1 = Attention(queryDimension: dimension, heads: heads, headDimension: headDimension)
        if let contextDimension {
            norm2 = LayerNorm(dimension, epsilon: epsilon)
            attn2 = Attention(queryDimension: dimension, heads: heads, headDimension: headDimension,
                              contextDimension: contextDimension)
        } else {
            norm2 = nil
            attn2 = nil
        }
        norm3 = LayerNorm(dimension, epsilon: epsilon)
        ff = FeedForward(dimension: dimension, multiplier: multiplier, activation: activation)
    }

    public var namedChildren: [(String, any Module)] {
        var out: [(String, any Module)] = [("norm1", norm1), ("attn1", attn1)]
        if let norm2, let attn2 { out += [("norm2", norm2), ("attn2", attn2)] }
        return out + [("norm3", norm3), ("ff", ff)]
    }

    /// x: [B, N, C] (or [B·V, N, C] with `views`); context: [B, M, contextDim] (or [B·V, M, contextDim]
    /// with `views`) when the block has cross-attention.
    public func callAsFunction(_ x: Tensor, context: Tensor? = nil, views: Int = 1,
                               multiView: MultiViewAttention = .dense) -> Tensor {
        if let attn2 {
            // Checked before any work: cross-attention runs per view, so each of the B·V rows of
            // the hidden states needs its own context row.
            guard let context else { fatalError("TransformerBlock with cross-attention called without context") }
            check(context.rank == 3 && context.shape.first == x.shape.first,
                  "TransformerBlock cross-attention: context \(context.shape) for hidden states \(x.shape) with \(views) view(s): "
                  + "expected [\(x.shape.first ?? 0), M, \(attn2.toK.inFeatures)] (one context per sample and view)")
        }
        var h = attn1(norm1(x), views: views, multiView: multiView) + x
        if let norm2, let attn2, let context {
            h = attn2(norm2(h), context: context) + h
        }
        return ff(norm3(h)) + h
    }
}
