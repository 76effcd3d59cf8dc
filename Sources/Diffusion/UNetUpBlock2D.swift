import Layers
import Tensors

/// diffusers' `CrossAttnUpBlock2D` (with `attention`) and `UpBlock2D` (without): `layers`
/// ResNets (`layers_per_block + 1`), each on the previous output concatenated along channels
/// with the next skip state (the last one a down block stored, taken from the end), each
/// followed by `attentions.j` in the cross-attention kind; then, in all but the last block,
/// `upsamplers.0` (nearest ×2, 3×3).
public final class UNetUpBlock2D: Module {
    public let resnets: [ResnetBlock2D]
    public let attentions: [Transformer2DModel]
    public let upsampler: Upsample2D?

    /// `previousChannels`: the width arriving from below; `skipChannels`: the width of the
    /// mirrored down block's input, which the last ResNet's skip state has.
    public init(previousChannels: Int, outChannels: Int, skipChannels: Int, layers: Int, resnet: UNetResnetShape,
                attention: UNetAttentionShape?, upsample: Bool) {
        resnets = (0..<layers).map { j in
            let skip = j == layers - 1 ? skipChannels : outChannels
            return resnet.make((j == 0 ? previousChannels : outChannels) + skip, outChannels)
        }
        attentions = attention.map { a in (0..<layers).map { _ in a.make(channels: outChannels, groups: resnet.groups) } } ?? []
        upsampler = upsample ? Upsample2D(channels: outChannels) : nil
    }

    public var namedChildren: [(String, any Module)] {
        indexed("attentions", attentions) + indexed("resnets", resnets) + (upsampler.map { [("upsamplers.0", $0)] } ?? [])
    }

    /// x [B·V, previous, h, w]; `skips`: one state per ResNet, in the order the down path made
    /// them (this block consumes them from the end).
    public func callAsFunction(_ x: Tensor, skips: [Tensor], _ inputs: UNetBlockInputs) -> Tensor {
        check(skips.count == resnets.count, "UNetUpBlock2D: \(skips.count) skip states for \(resnets.count) ResNets")
        var h = x
        for (j, resnet) in resnets.enumerated() {
            h = resnet(concat([h, skips[skips.count - 1 - j]], axis: 1), timeEmbedding: inputs.timeEmbedding)
            if !attentions.isEmpty { h = inputs.attend(attentions[j], h) }
        }
        return upsampler.map { $0(h) } ?? h
    }
}
