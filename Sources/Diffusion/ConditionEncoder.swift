import Layers
import Tensors

/// The multi-view UNet's image conditioning, trained with it: from the condition view's scaled
/// VAE latent, a global embedding (into the UNet's `class_embedding`, added to the time
/// embedding, where FaceLift feeds CLIP's image embedding) and a short sequence of tokens for
/// its cross-attention (where ID-TS feeds ArcFace tokens). It reads the latent rather than the
/// pixels because the latent is already computed for the concatenation and is 16× smaller; an
/// identity encoder on the pixels can take its place (issue 15).
///
/// conv_in → resnets.0 → downsampler (stride 2) → resnets.1 → norm_out+SiLU; tokens are the
/// positions of the halved grid projected to `tokenDimension` (`proj_tokens`); the global
/// embedding is their mean projected to `globalDimension` (`proj_global`).
public final class ConditionEncoder: Module {
    public struct Configuration: Codable, Equatable, Sendable {
        public var latentChannels = 4
        public var channels = 64
        public var groups = 16
        public var tokenDimension = 64
        public var globalDimension = 64

        public init() {}

        enum CodingKeys: String, CodingKey {
            case latentChannels = "latent_channels", channels, groups = "norm_num_groups"
            case tokenDimension = "token_dim", globalDimension = "global_dim"
        }
    }

    public let configuration: Configuration
    let convIn: Conv2d
    let resnets: [ResnetBlock2D]
    let downsampler: Downsample2D
    let normOut: GroupNorm
    let projTokens: Linear
    let projGlobal: Linear

    public init(_ c: Configuration) {
        check(c.latentChannels > 0 && c.channels > 0 && c.tokenDimension > 0 && c.globalDimension > 0,
              "ConditionEncoder: every width must be positive, got \(c)")
        configuration = c
        convIn = Conv2d(c.latentChannels, c.channels, kernelSize: 3, padding: 1)
        resnets = (0..<2).map { _ in ResnetBlock2D(inChannels: c.channels, timeEmbeddingChannels: nil, groups: c.groups) }
        downsampler = Downsample2D(channels: c.channels)
        normOut = GroupNorm(groups: c.groups, channels: c.channels, epsilon: 1e-6)
        projTokens = Linear(c.channels, c.tokenDimension)
        projGlobal = Linear(c.channels, c.globalDimension)
    }

    public var namedChildren: [(String, any Module)] {
        [("conv_in", convIn)] + indexed("resnets", resnets)
            + [("downsampler", downsampler), ("norm_out", normOut), ("proj_tokens", projTokens), ("proj_global", projGlobal)]
    }

    /// Tokens per image for latents of `height`×`width`.
    public static func tokenCount(height: Int, width: Int) -> Int { ((height + 1) / 2) * ((width + 1) / 2) }

    /// latent [B, z, h, w] → global [B, globalDimension], tokens [B, ⌈h/2⌉·⌈w/2⌉, tokenDimension].
    public func callAsFunction(_ latent: Tensor) -> (global: Tensor, tokens: Tensor) {
        check(latent.rank == 4 && latent.shape[1] == configuration.latentChannels,
              "ConditionEncoder: latent \(latent.shape), expected [B, \(configuration.latentChannels), h, w]")
        var h = resnets[0](convIn(latent))
        h = normOut.withSiLU(resnets[1](downsampler(h)))
        let (b, c, positions) = (h.shape[0], h.shape[1], h.shape[2] * h.shape[3])
        let features = h.reshaped([b, c, positions]).permuted([0, 2, 1])      // [B, positions, C]
        return (projGlobal(features.mean(axes: [1])), projTokens(features))
    }
}
