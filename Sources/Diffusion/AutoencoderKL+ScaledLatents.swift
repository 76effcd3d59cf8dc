import Tensors

/// The latent space the diffusion model works in: posterior latents × `scaling_factor`, so that
/// they have about unit variance (SD's convention), from and to images in [0, 1].
extension AutoencoderKL {
    /// Images [B, 3, H, W] in [0, 1] → scaled latents [B, z, H/f, W/f]: the posterior mode, or a
    /// sample when `rng` is given (diffusers' training scripts sample the targets).
    public func scaledLatents(ofImages images: Tensor, rng: inout Philox?) -> Tensor {
        let posterior = self.posterior(images * 2 - 1)
        let z: Tensor
        if var generator = rng {
            z = posterior.sample(rng: &generator)
            rng = generator
        } else {
            z = posterior.mode
        }
        return z * Float(configuration.scalingFactor)
    }

    /// The posterior mode, scaled.
    public func scaledLatents(ofImages images: Tensor) -> Tensor {
        var none: Philox? = nil
        return scaledLatents(ofImages: images, rng: &none)
    }

    /// Scaled latents → images in [0, 1] (clamped, as pipelines do before saving).
    public func images(fromScaledLatents latents: Tensor) -> Tensor {
        clamp((decoded(latents / Float(configuration.scalingFactor)) + 1) * 0.5, min: 0, max: 1)
    }
}
