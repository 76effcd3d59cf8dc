import Layers
import Tensors

/// diffusers' `Attention` as the VAE's mid block builds it: GroupNorm (`group_norm`), one head as
/// wide as the channels, `to_q/to_k/to_v/to_out.0` all with bias, over the h·w pixels as tokens,
/// and the input added back (residual connection, output scale 1).
public final class SpatialSelfAttention: Module {
    public let groupNorm: GroupNorm
    public let attention: Attention

    public init(channels: Int, groups: Int, epsilon: Float = 1e-6) {
        groupNorm = GroupNorm(groups: groups, channels: channels, epsilon: epsilon)
        attention = Attention(queryDimension: channels, heads: 1, headDimension: channels, bias: true, outBias: true)
    }

    public var namedChildren: [(String, any Module)] { [("group_norm", groupNorm)] + attention.namedChildren }

    /// x: [B, C, H, W] → [B, C, H, W].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let tokens = groupNorm(x).reshaped([b, c, h * w]).permuted([0, 2, 1])
        let attended = attention(tokens).permuted([0, 2, 1]).reshaped([b, c, h, w])
        return x + attended
    }
}

/// diffusers' `UNetMidBlock2D` without a time embedding: `resnets.0`, then (`attentions.0`,
/// `resnets.1`); the attention is left out when `mid_block_add_attention` is false.
public final class VAEMidBlock: Module {
    public let resnets: [ResnetBlock2D]
    public let attention: SpatialSelfAttention?

    public init(channels: Int, groups: Int, addAttention: Bool) {
        resnets = (0..<2).map { _ in ResnetBlock2D(inChannels: channels, timeEmbeddingChannels: nil, groups: groups, epsilon: 1e-6) }
        attention = addAttention ? SpatialSelfAttention(channels: channels, groups: groups) : nil
    }

    public var namedChildren: [(String, any Module)] {
        (attention.map { [("attentions.0", $0)] } ?? []) + indexed("resnets", resnets)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = resnets[0](x)
        if let attention { h = attention(h) }
        return resnets[1](h)
    }
}

/// diffusers' `DownEncoderBlock2D` / `UpDecoderBlock2D`: ResNet blocks, then an optional
/// resampler (`downsamplers.0` with the asymmetric pad, or `upsamplers.0`).
public final class VAEBlock: Module {
    public enum Resampler { case none, down, up }

    public let resnets: [ResnetBlock2D]
    public let downsampler: Downsample2D?
    public let upsampler: Upsample2D?

    public init(inChannels: Int, outChannels: Int, layers: Int, groups: Int, resampler: Resampler) {
        resnets = (0..<layers).map { i in
            ResnetBlock2D(inChannels: i == 0 ? inChannels : outChannels, outChannels: outChannels,
                          timeEmbeddingChannels: nil, groups: groups, epsilon: 1e-6)
        }
        downsampler = resampler == .down ? Downsample2D(channels: outChannels, padding: 0) : nil
        upsampler = resampler == .up ? Upsample2D(channels: outChannels) : nil
    }

    public var namedChildren: [(String, any Module)] {
        indexed("resnets", resnets) + (downsampler.map { [("downsamplers.0", $0)] } ?? [])
            + (upsampler.map { [("upsamplers.0", $0)] } ?? [])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for resnet in resnets { h = resnet(h) }
        if let downsampler { h = downsampler(h) }
        if let upsampler { h = upsampler(h) }
        return h
    }
}

/// diffusers' VAE `Encoder`: conv_in, down blocks (all but the last halve the size), mid block,
/// GroupNorm + SiLU, conv_out to 2·z channels (mean and log-variance).
public final class VAEEncoder: Module {
    public let convIn: Conv2d
    public let downBlocks: [VAEBlock]
    public let midBlock: VAEMidBlock
    public let convNormOut: GroupNorm
    public let convOut: Conv2d

    public init(_ c: AutoencoderKLConfiguration) {
        let widths = c.blockOutChannels
        convIn = Conv2d(c.inChannels, widths[0], kernelSize: 3, padding: 1)
        downBlocks = widths.indices.map { i in
            VAEBlock(inChannels: i == 0 ? widths[0] : widths[i - 1], outChannels: widths[i], layers: c.layersPerBlock,
                     groups: c.normNumGroups, resampler: i == widths.count - 1 ? .none : .down)
        }
        midBlock = VAEMidBlock(channels: widths.last!, groups: c.normNumGroups, addAttention: c.midBlockAddAttention)
        convNormOut = GroupNorm(groups: c.normNumGroups, channels: widths.last!, epsilon: 1e-6)
        convOut = Conv2d(widths.last!, 2 * c.latentChannels, kernelSize: 3, padding: 1)
    }

    public var namedChildren: [(String, any Module)] {
        [("conv_in", convIn)] + indexed("down_blocks", downBlocks)
            + [("mid_block", midBlock), ("conv_norm_out", convNormOut), ("conv_out", convOut)]
    }

    /// [B, in, H, W] → moments [B, 2·z, H/f, W/f].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = convIn(x)
        for block in downBlocks { h = block(h) }
        return convOut(convNormOut.withSiLU(midBlock(h)))
    }
}

/// diffusers' VAE `Decoder`, the encoder mirrored: conv_in from z channels, mid block, up blocks
/// (widths reversed, `layers_per_block + 1` ResNets each, all but the last double the size),
/// GroupNorm + SiLU, conv_out.
public final class VAEDecoder: Module {
    public let convIn: Conv2d
    public let midBlock: VAEMidBlock
    public let upBlocks: [VAEBlock]
    public let convNormOut: GroupNorm
    public let convOut: Conv2d

    public init(_ c: AutoencoderKLConfiguration) {
        let widths = Array(c.blockOutChannels.reversed())
        convIn = Conv2d(c.latentChannels, widths[0], kernelSize: 3, padding: 1)
        midBlock = VAEMidBlock(channels: widths[0], groups: c.normNumGroups, addAttention: c.midBlockAddAttention)
        upBlocks = widths.indices.map { i in
            VAEBlock(inChannels: i == 0 ? widths[0] : widths[i - 1], outChannels: widths[i], layers: c.layersPerBlock + 1,
                     groups: c.normNumGroups, resampler: i == widths.count - 1 ? .none : .up)
        }
        convNormOut = GroupNorm(groups: c.normNumGroups, channels: widths.last!, epsilon: 1e-6)
        convOut = Conv2d(widths.last!, c.outChannels, kernelSize: 3, padding: 1)
    }

    public var namedChildren: [(String, any Module)] {
        [("conv_in", convIn), ("mid_block", midBlock)] + indexed("up_blocks", upBlocks)
            + [("conv_norm_out", convNormOut), ("conv_out", convOut)]
    }

    /// [B, z, h, w] → [B, out, h·f, w·f].
    public func callAsFunction(_ z: Tensor) -> Tensor {
        var h = midBlock(convIn(z))
        for block in upBlocks { h = block(h) }
        return convOut(convNormOut.withSiLU(h))
    }
}
