import Layers
import Tensors

/// diffusers' `Transformer2DModel` on continuous input, as the UNet's attention blocks build it:
/// GroupNorm (`norm`, eps 1e-6) → `proj_in` → `transformer_blocks.k` over the h·w pixels as
/// tokens → `proj_out` → plus the input. The projections are linear layers on tokens with
/// `use_linear_projection` (SD 2.x), else 1×1 convolutions on the feature map (SD 1.x).
public final class Transformer2DModel: Module {
    public let norm: GroupNorm
    public let linearProjectionIn: Linear?
    public let convolutionProjectionIn: Conv2d?
    public let transformerBlocks: [TransformerBlock]
    public let linearProjectionOut: Linear?
    public let convolutionProjectionOut: Conv2d?
    public let channels: Int

    public init(channels: Int, heads: Int, layers: Int, contextDimension: Int, groups: Int, useLinearProjection: Bool) {
        check(heads > 0 && channels % heads == 0, "Transformer2DModel: \(heads) heads do not split \(channels) channels")
        self.channels = channels
        norm = GroupNorm(groups: groups, channels: channels, epsilon: 1e-6)
        linearProjectionIn = useLinearProjection ? Linear(channels, channels) : nil
        convolutionProjectionIn = useLinearProjection ? nil : Conv2d(channels, channels, kernelSize: 1)
        transformerBlocks = (0..<layers).map { _ in
            TransformerBlock(dimension: channels, heads: heads, headDimension: channels / heads, contextDimension: contextDimension)
        }
        linearProjectionOut = useLinearProjection ? Linear(channels, channels) : nil
        convolutionProjectionOut = useLinearProjection ? nil : Conv2d(channels, channels, kernelSize: 1)
    }

    public var namedChildren: [(String, any Module)] {
        let projIn: any Module = linearProjectionIn ?? convolutionProjectionIn!
        let projOut: any Module = linearProjectionOut ?? convolutionProjectionOut!
        return [("norm", norm), ("proj_in", projIn)] + indexed("transformer_blocks", transformerBlocks) + [("proj_out", projOut)]
    }

    /// x [B·V, C, h, w]; context [B·V, M, contextDimension] → [B·V, C, h, w].
    public func callAsFunction(_ x: Tensor, context: Tensor, views: Int, multiView: MultiViewAttention) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        func tokens(_ map: Tensor) -> Tensor { map.permuted([0, 2, 3, 1]).reshaped([n, h * w, c]) }
        func map(_ tokens: Tensor) -> Tensor { tokens.reshaped([n, h, w, c]).permuted([0, 3, 1, 2]) }
        let normed = norm(x)
        var hidden = linearProjectionIn.map { $0(tokens(normed)) } ?? tokens(convolutionProjectionIn!(normed))
        for block in transformerBlocks { hidden = block(hidden, context: context, views: views, multiView: multiView) }
        let out = linearProjectionOut.map { map($0(hidden)) } ?? convolutionProjectionOut!(map(hidden))
        return out + x
    }
}
