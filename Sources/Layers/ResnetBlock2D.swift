import Tensors

/// diffusers' `ResnetBlock2D` (time_embedding_norm "default", output scale 1):
/// h = conv1(silu(norm1(x))) + time_emb_proj(silu(temb)); h = conv2(dropout(silu(norm2(h))));
/// out = conv_shortcut(x) + h, the 1×1 shortcut only when the channel count changes.
public final class ResnetBlock2D: Module {
    public let norm1: GroupNorm
    public let conv1: Conv2d
    public let timeEmbeddingProjection: Linear?
    public let norm2: GroupNorm
    public let conv2: Conv2d
    public let convShortcut: Conv2d?
    /// Dropout probability between norm2 and conv2 (applied only with a generator in `callAsFunction`).
    public let dropout: Float

    public init(inChannels: Int, outChannels: Int? = nil, timeEmbeddingChannels: Int? = 512, groups: Int = 32,
                epsilon: Float = 1e-6, dropout: Float = 0) {
        let out = outChannels ?? inChannels
        norm1 = GroupNorm(groups: groups, channels: inChannels, epsilon: epsilon)
        conv1 = Conv2d(inChannels, out, kernelSize: 3, padding: 1)
        timeEmbeddingProjection = timeEmbeddingChannels.map { Linear($0, out) }
        norm2 = GroupNorm(groups: groups, channels: out, epsilon: epsilon)
        conv2 = Conv2d(out, out, kernelSize: 3, padding: 1)
        convShortcut = inChannels != out ? Conv2d(inChannels, out, kernelSize: 1) : nil
        self.dropout = dropout
    }

    public var namedChildren: [(String, any Module)] {
        var out: [(String, any Module)] = [("norm1", norm1), ("conv1", conv1)]
        if let timeEmbeddingProjection { out.append(("time_emb_proj", timeEmbeddingProjection)) }
        out += [("norm2", norm2), ("conv2", conv2)]
        if let convShortcut { out.append(("conv_shortcut", convShortcut)) }
        return out
    }

    /// x: [N, C, H, W]; timeEmbedding: [N, timeEmbeddingChannels]. `dropoutRNG` turns dropout on (training).
    public func callAsFunction(_ x: Tensor, timeEmbedding: Tensor? = nil, dropoutRNG: inout Philox?) -> Tensor {
        var h = conv1(norm1.withSiLU(x))
        if let proj = timeEmbeddingProjection, let timeEmbedding {
            let t = proj(silu(timeEmbedding))
            h = h + t.reshaped([t.shape[0], t.shape[1], 1, 1])
        }
        h = norm2.withSiLU(h)
        if dropout > 0, var rng = dropoutRNG {
            h = Tensors.dropout(h, probability: dropout, rng: &rng)
            dropoutRNG = rng
        }
        h = conv2(h)
        return (convShortcut.map { $0(x) } ?? x) + h
    }

    /// Evaluation (no dropout).
    public func callAsFunction(_ x: Tensor, timeEmbedding: Tensor? = nil) -> Tensor {
        var none: Philox? = nil
        return self(x, timeEmbedding: timeEmbedding, dropoutRNG: &none)
    }
}
