import Layers
import Tensors

/// diffusers' `AutoencoderKL`: the KL-regularised autoencoder whose latent space the diffusion
/// model works in. Images in [−1, 1] → encoder → `quant_conv` → posterior (`DiagonalGaussian`);
/// latents → `post_quant_conv` → decoder → images. Module tree, key names and configuration
/// fields are diffusers', so checkpoints move both ways (see `AutoencoderKL+Loading.swift`).
public final class AutoencoderKL: Module {
    public private(set) var configuration: AutoencoderKLConfiguration
    public let encoder: VAEEncoder
    public let decoder: VAEDecoder
    public let quantConv: Conv2d?
    public let postQuantConv: Conv2d?

    /// Throws, naming the key, for a configuration that describes no model.
    public init(_ configuration: AutoencoderKLConfiguration) throws {
        try configuration.validate()
        self.configuration = configuration
        let z = configuration.latentChannels
        encoder = VAEEncoder(configuration)
        decoder = VAEDecoder(configuration)
        quantConv = configuration.useQuantConv ? Conv2d(2 * z, 2 * z, kernelSize: 1) : nil
        postQuantConv = configuration.usePostQuantConv ? Conv2d(z, z, kernelSize: 1) : nil
    }

    public var namedChildren: [(String, any Module)] {
        var out: [(String, any Module)] = [("encoder", encoder), ("decoder", decoder)]
        if let quantConv { out.append(("quant_conv", quantConv)) }
        if let postQuantConv { out.append(("post_quant_conv", postQuantConv)) }
        return out
    }

    /// Records a newly measured scaling factor (it travels with the configuration).
    public func setScalingFactor(_ value: Double) {
        check(value > 0 && value.isFinite, "scaling factor \(value)")
        configuration.scalingFactor = value
    }

    /// The latent shape of images [B, C, H, W]: [B, z, H/f, W/f].
    public func latentShape(forImages shape: [Int]) -> [Int] {
        let f = configuration.downsamplingFactor
        return [shape[0], configuration.latentChannels, shape[2] / f, shape[3] / f]
    }

    /// Throws unless `shape` is an image batch this VAE encodes (and decodes back to the same size).
    public func checkImages(_ shape: [Int]) throws {
        let f = configuration.downsamplingFactor
        guard shape.count == 4, shape[0] >= 1, shape[1] == configuration.inChannels,
              shape[2] >= f, shape[3] >= f, shape[2] % f == 0, shape[3] % f == 0 else {
            throw AutoencoderKLInputError(what: "images", shape: shape,
                                          expected: "[batch, \(configuration.inChannels), H, W] with H and W multiples of \(f)")
        }
    }

    /// Throws unless `shape` is a latent batch this VAE decodes.
    public func checkLatents(_ shape: [Int]) throws {
        guard shape.count == 4, shape[0] >= 1, shape[1] == configuration.latentChannels, shape[2] >= 1, shape[3] >= 1 else {
            throw AutoencoderKLInputError(what: "latents", shape: shape, expected: "[batch, \(configuration.latentChannels), h, w]")
        }
    }

    /// Images [B, C, H, W] in [−1, 1] → the posterior over latents [B, z, H/f, W/f].
    public func encode(_ images: Tensor) throws -> DiagonalGaussian {
        try checkImages(images.shape)
        return posterior(images)
    }

    /// Latents [B, z, h, w] (unscaled) → images [B, out, h·f, w·f] in (about) [−1, 1].
    public func decode(_ latents: Tensor) throws -> Tensor {
        try checkLatents(latents.shape)
        return decoded(latents)
    }

    /// `encode` without the shape check, for callers that checked once (training steps).
    public func posterior(_ images: Tensor) -> DiagonalGaussian {
        let moments = encoder(images)
        return DiagonalGaussian(moments: quantConv.map { $0(moments) } ?? moments)
    }

    /// `decode` without the shape check.
    public func decoded(_ latents: Tensor) -> Tensor {
        decoder(postQuantConv.map { $0(latents) } ?? latents)
    }

    /// diffusers' `forward`: encode, take a sample (with `rng`) or the mode, decode.
    public func callAsFunction(_ images: Tensor, rng: inout Philox?) -> (reconstruction: Tensor, posterior: DiagonalGaussian) {
        let p = posterior(images)
        let z: Tensor
        if var generator = rng {
            z = p.sample(rng: &generator)
            rng = generator
        } else {
            z = p.mode
        }
        return (decoded(z), p)
    }
}

/// An input of the wrong shape for a VAE: names what it was, its shape and what was expected.
public struct AutoencoderKLInputError: Error, CustomStringConvertible {
    public let what: String
    public let shape: [Int]
    public let expected: String
    public var description: String { "AutoencoderKL: \(what) of shape \(shape); expected \(expected)" }
}
