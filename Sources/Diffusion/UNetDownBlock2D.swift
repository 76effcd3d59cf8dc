import Layers
import Tensors

/// diffusers' `CrossAttnDownBlock2D` (with `attention`) and `DownBlock2D` (without):
/// `resnets.j` (each followed by `attentions.j` in the cross-attention kind), then, in all but
/// the last block, `downsamplers.0` (3×3, stride 2, padding 1). Every ResNet's (and attention's)
/// output and the downsampled map are kept for the up blocks' skip connections.
public final class UNetDownBlock2D: Module {
    public let resnets: [ResnetBlock2D]
    public let attentions: [Transformer2DModel]
    public let downsampler: Downsample2D?

    public init(inChannels: Int, outChannels: Int, layers: Int, resnet: UNetResnetShape, attention: UNetAttentionShape?,
                downsample: Bool) {
        resnets = (0..<layers).map { resnet.make($0 == 0 ? inChannels : outChannels, outChannels) }
        attentions = attention.map { a in (0..<layers).map { _ in a.make(channels: outChannels, groups: resnet.groups) } } ?? []
        downsampler = downsample ? Downsample2D(channels: outChannels, padding: 1) : nil
    }

    public var namedChildren: [(String, any Module)] {
        indexed("resnets", resnets) + indexed("attentions", attentions) + (downsampler.map { [("downsamplers.0", $0)] } ?? [])
    }

    /// x [B·V, in, h, w] → (output, the states the up blocks concatenate, in order).
    public func callAsFunction(_ x: Tensor, _ inputs: UNetBlockInputs) -> (output: Tensor, skips: [Tensor]) {
        var h = x
        var skips: [Tensor] = []
        for (j, resnet) in resnets.enumerated() {
            h = resnet(h, timeEmbedding: inputs.timeEmbedding)
            if !attentions.isEmpty { h = inputs.attend(attentions[j], h) }
            skips.append(h)
        }
        if let downsampler {
            h = downsampler(h)
            skips.append(h)
        }
        return (h, skips)
    }
}
