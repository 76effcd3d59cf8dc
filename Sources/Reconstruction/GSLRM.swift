import Layers
import Splatting
import Tensors

/// The GS-LRM reconstructor (FaceLift's `gslrm/model/gslrm.py`, pixel-aligned Gaussians only):
/// posed views in, one 3D Gaussian per input pixel out.
///
/// Each input pixel carries 9 channels (RGB in [−1, 1] and a Plücker ray map). Views are cut into
/// patches, each patch linearly embedded into one token; the tokens of all input views of a
/// sample go through one plain pre-LN transformer together, so every view sees every other; a
/// LayerNorm and a linear layer turn each token back into the raw parameters of its patch's
/// pixels. Key names follow FaceLift's (`patch_embedder.1`, `input_layer_norm`,
/// `transformer_layers.N`, `pixel_gaussian_decoder.{0,1}`); the blocks use diffusers' names.
public final class GSLRM: Module {
    public let configuration: GSLRMConfiguration
    let patchEmbedder: Linear
    let inputLayerNorm: LayerNorm
    let transformerLayers: [TransformerBlock]
    let decoderNorm: LayerNorm
    let decoderProjection: Linear

    public init(_ configuration: GSLRMConfiguration) {
        check(configuration.problem == nil, "GS-LRM configuration: \(configuration.problem!)")
        self.configuration = configuration
        let c = configuration, p2 = c.patchSize * c.patchSize
        // FaceLift initialises every linear weight N(0, 0.02): small tokens keep the untrained
        // model's Gaussians near their biases (mid-depth, small, mostly transparent).
        patchEmbedder = Linear(GSLRMConfiguration.inputChannels * p2, c.width, bias: false,
                               weightInitializer: .normal(mean: 0, std: 0.02))
        inputLayerNorm = LayerNorm(c.width, bias: false)
        transformerLayers = (0..<c.layers).map { _ in
            TransformerBlock(dimension: c.width, heads: c.heads, headDimension: c.headDimension, activation: .gelu)
        }
        decoderNorm = LayerNorm(c.width, bias: false)
        decoderProjection = Linear(c.width, p2 * GSLRMConfiguration.gaussianChannels, bias: false,
                                   weightInitializer: .normal(mean: 0, std: 0.02))
    }

    public var namedChildren: [(String, any Module)] {
        [("patch_embedder.1", patchEmbedder), ("input_layer_norm", inputLayerNorm)]
            + indexed("transformer_layers", transformerLayers)
            + [("pixel_gaussian_decoder.0", decoderNorm), ("pixel_gaussian_decoder.1", decoderProjection)]
    }

    /// posed: [B, V, 9, H, W] → raw Gaussian parameters [B, V·H·W, 12] in pixel order.
    public func callAsFunction(_ posed: Tensor) -> Tensor {
        let s = posed.shape
        check(s.count == 5 && s[2] == GSLRMConfiguration.inputChannels,
              "GS-LRM takes posed views [B, V, 9, H, W], got \(s)")
        let (b, v, h, w, p) = (s[0], s[1], s[3], s[4], configuration.patchSize)
        check(h % p == 0 && w % p == 0, "GS-LRM: \(w)×\(h) views do not divide into \(p)×\(p) patches")
        let (rows, columns) = (h / p, w / p)
        // (b v c (hh ph) (ww pw)) → (b) (v hh ww) (ph pw c), as FaceLift's Rearrange.
        let patches = posed.reshaped([b, v, s[2], rows, p, columns, p]).permuted([0, 1, 3, 5, 4, 6, 2])
            .reshaped([b, v * rows * columns, p * p * s[2]])
        var x = inputLayerNorm(patchEmbedder(patches))
        for block in transformerLayers { x = block(x) }
        let c = GSLRMConfiguration.gaussianChannels
        let raw = decoderProjection(decoderNorm(x))  // [B, V·hh·ww, ph·pw·c]
        return raw.reshaped([b, v, rows, columns, p, p, c]).permuted([0, 1, 2, 4, 3, 5, 6]).reshaped([b, v * h * w, c])
    }

    /// The network's input for `images` [B, V, 3, H, W] in [0, 1] seen by `cameras`: [B, V, 9, H, W].
    public func posedInput(images: Tensor, cameras: [[Camera]]) -> Tensor {
        posedInput(images: images, rayMaps: PluckerRays.map(cameras, layout: configuration.plucker.rayLayout))
    }

    func posedInput(images: Tensor, rayMaps: Tensor) -> Tensor {
        withoutGradients { concat([images * 2 - 1, rayMaps], axis: 2) }
    }

    /// Gaussians for `images` [B, V, 3, H, W] in [0, 1] seen by `cameras` (B lists of V).
    public func reconstruct(images: Tensor, cameras: [[Camera]]) -> PixelGaussians {
        // Decoding needs the (o × d, d) maps anyway: compute them once, and the input's maps only
        // when the model was trained on the other layout.
        let maps = PluckerRays.map(cameras, layout: .momentDirection)
        let inputMaps = configuration.plucker == .momentDirection ? maps : PluckerRays.map(cameras, layout: configuration.plucker.rayLayout)
        let raw = self(posedInput(images: images, rayMaps: inputMaps))
        return PixelGaussians(raw: raw, rays: PixelRays(cameras, momentDirectionMaps: maps), configuration: configuration)
    }
}
