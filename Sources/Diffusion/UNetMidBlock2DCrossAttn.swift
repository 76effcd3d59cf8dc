import Layers
import Tensors

/// diffusers' `UNetMidBlock2DCrossAttn` (one layer): `resnets.0`, `attentions.0`, `resnets.1`,
/// all at the innermost width.
public final class UNetMidBlock2DCrossAttn: Module {
    public let resnets: [ResnetBlock2D]
    public let attentions: [Transformer2DModel]

    public init(channels: Int, resnet: UNetResnetShape, attention: UNetAttentionShape) {
        resnets = [resnet.make(channels, channels), resnet.make(channels, channels)]
        attentions = [attention.make(channels: channels, groups: resnet.groups)]
    }

    public var namedChildren: [(String, any Module)] { indexed("attentions", attentions) + indexed("resnets", resnets) }

    public func callAsFunction(_ x: Tensor, _ inputs: UNetBlockInputs) -> Tensor {
        let h = inputs.attend(attentions[0], resnets[0](x, timeEmbedding: inputs.timeEmbedding))
        return resnets[1](h, timeEmbedding: inputs.timeEmbedding)
    }
}
