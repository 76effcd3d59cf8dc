import Datasets
import Diffusion
import Foundation
import Layers
import Reconstruction
import Tensors

/// `model.kind: vae` — the KL autoencoder (`AutoencoderKL`, diffusers' names) whose latent space
/// the diffusion model works in. Every selected view of a sample is one image: encoded (a
/// posterior sample during training), decoded, and scored by `pixel_weight`·L1 or MSE +
/// `ssim_weight`·(1 − SSIM) + `chroma_weight`·L1 of the colour alone (`chroma`) +
/// `kl_weight`·KL (summed over latent elements, averaged over images) + `perceptual_weight`·VGG19
/// perceptual loss when weights are given. Evaluation on held-out
/// identities decodes the posterior mode and reports PSNR/SSIM beside a bilinear baseline that
/// keeps as many pixels as the latent has positions. The checkpoint's `vae_config` metadata holds
/// the diffusers configuration with the scaling factor measured on the training batches.
/// Keys: see recipes/README.md.
public final class VAETask: TrainingTask {
    public enum PixelLoss: String, CaseIterable { case l1, mse }

    let network: AutoencoderKL
    let pixelLoss: PixelLoss
    let pixelWeight: Float
    let ssimWeight: Float
    let chromaWeight: Float
    let klWeight: Float
    let perceptualWeight: Float
    let perceptual: PerceptualLoss?
    let samplePosterior: Bool
    /// Running first and second moments of the training latents (the sampled z), for the
    /// scaling factor: a moving average over about the last 1/(1 − decay) steps, so it follows
    /// the weights as they train.
    private var latentMoments: (mean: Double, square: Double)?
    static let latentMomentDecay = 0.98

    public var model: any Module { network }
    public let viewSelection: ViewSelection

    public var checkpointMetadata: [String: String] {
        if let scale = measuredScalingFactor { network.setScalingFactor(scale) }
        return [AutoencoderKLConfiguration.metadataKey: network.configuration.json()]
    }

    /// 1/std of the training latents, once a step has run.
    public var measuredScalingFactor: Double? {
        guard let m = latentMoments else { return nil }
        let variance = m.square - m.mean * m.mean
        return variance > 0 ? 1 / variance.squareRoot() : nil
    }

    public var summary: String {
        var terms = ["\(pixelWeight)·\(pixelLoss.rawValue.uppercased())"]
        if ssimWeight > 0 { terms.append("\(ssimWeight)·(1 − SSIM)") }
        if chromaWeight > 0 { terms.append("\(chromaWeight)·L1(chroma)") }
        terms.append(klWeight > 0 ? "\(klWeight)·KL" : "no KL term (kl_weight 0)")
        terms.append(perceptualWeight > 0 ? "\(perceptualWeight)·perceptual (VGG19)" : "no perceptual term (perceptual_weight 0)")
        let c = network.configuration, f = c.downsamplingFactor
        return "loss: " + terms.joined(separator: " + ") + "; AutoencoderKL block_out_channels \(c.blockOutChannels), "
            + "layers_per_block \(c.layersPerBlock), \(c.latentChannels) latent channels, factor \(f)"
            + (samplePosterior ? ", decoding posterior samples" : ", decoding the posterior mean")
    }

    public init(recipe: Recipe) throws {
        let m = recipe.model.section
        var c = AutoencoderKLConfiguration()
        c.blockOutChannels = try m.ints("block_out_channels", default: [64, 128, 128])
        c.downBlockTypes = Array(repeating: "DownEncoderBlock2D", count: c.blockOutChannels.count)
        c.upBlockTypes = Array(repeating: "UpDecoderBlock2D", count: c.blockOutChannels.count)
        c.layersPerBlock = try m.int("layers_per_block", default: 1, min: 1)
        c.latentChannels = try m.int("latent_channels", default: 4, min: 1)
        c.normNumGroups = try m.int("norm_num_groups", default: 32, min: 1)
        c.midBlockAddAttention = try m.bool("mid_block_add_attention", default: true)
        do { try c.validate() } catch let error as AutoencoderKLConfigurationError {
            throw m.error(error.key, nil, error.message)
        }
        let manifest = try Manifest.read(dataset: recipe.data.train)
        let f = c.downsamplingFactor
        guard manifest.width % f == 0, manifest.height % f == 0 else {
            throw m.error("block_out_channels", nil, "gives a downsampling factor of \(f), which does not divide "
                          + "\(recipe.data.train)'s \(manifest.width)×\(manifest.height) views")
        }
        c.sampleSize = manifest.width
        pixelLoss = PixelLoss(rawValue: try m.string("pixel_loss", default: "l1", oneOf: PixelLoss.allCases.map(\.rawValue)))!
        pixelWeight = Float(try m.double("pixel_weight", default: 1, min: 0))
        ssimWeight = Float(try m.double("ssim_weight", default: 0, min: 0))
        chromaWeight = Float(try m.double("chroma_weight", default: 0, min: 0))
        klWeight = Float(try m.double("kl_weight", default: 1e-6, min: 0))
        samplePosterior = try m.bool("sample_posterior", default: true)
        (perceptualWeight, perceptual) = try m.perceptualLoss()
        if perceptualWeight > 0 && min(manifest.width, manifest.height) < VGGFeatures.minimumSize {
            throw m.error("perceptual_weight", nil, "needs views of at least \(VGGFeatures.minimumSize)² pixels")
        }
        network = try AutoencoderKL(c)
        viewSelection = .random(inputs: recipe.views.inputs, supervision: 0, nearInputs: false)
    }

    /// A batch's views as one image batch [B·V, 3, H, W] in [0, 1].
    static func images(_ batch: Batch) -> Tensor {
        let s = batch.images.shape
        return batch.images.reshaped([s[0] * s[1], s[2], s[3], s[4]])
    }

    public func loss(on batch: Batch, rng: inout Philox) -> (loss: Tensor, metrics: [String: Double]) {
        let target = Self.images(batch)
        let posterior = network.posterior(target * 2 - 1)
        let z = samplePosterior ? posterior.sample(rng: &rng) : posterior.mode
        let reconstruction = (network.decoded(z) + 1) * 0.5
        var metrics: [String: Double] = [:]
        let pixel = pixelLoss == .l1 ? l1Loss(reconstruction, target) : mseLoss(reconstruction, target)
        metrics[pixelLoss.rawValue] = Double(pixel.item)
        var loss = pixel * pixelWeight
        let mse = pixelLoss == .mse ? Double(pixel.item) : Double(withoutGradients { mseLoss(reconstruction, target) }.item)
        metrics["psnr"] = -10 * log10(max(mse, 1e-10))
        if ssimWeight > 0 {
            let ssim = ssimLoss(reconstruction, target)
            metrics["ssim"] = 1 - Double(ssim.item)
            loss = loss + ssim * ssimWeight
        }
        if chromaWeight > 0 {
            let colour = l1Loss(chroma(reconstruction), chroma(target))
            metrics["chroma_l1"] = Double(colour.item)
            loss = loss + colour * chromaWeight
        }
        let kl = posterior.kl().mean()
        metrics["kl"] = Double(kl.item)
        if klWeight > 0 { loss = loss + kl * klWeight }
        if perceptualWeight > 0, let perceptual {
            let term = perceptual(reconstruction, target)
            metrics["perceptual"] = Double(term.item)
            loss = loss + term * perceptualWeight
        }
        let (mean, square) = Self.moments(z)
        let d = Self.latentMomentDecay
        latentMoments = latentMoments.map { (d * $0.mean + (1 - d) * mean, d * $0.square + (1 - d) * square) } ?? (mean, square)
        metrics["latent_std"] = (square - mean * mean).squareRoot()
        return (loss, metrics)
    }

    /// Mean and mean square of a tensor's elements.
    static func moments(_ t: Tensor) -> (Double, Double) {
        var sum = 0.0, square = 0.0
        t.withUnsafeBufferPointer { for v in $0 { sum += Double(v); square += Double(v) * Double(v) } }
        let n = Double(max(t.count, 1))
        return (sum / n, square / n)
    }

    /// PSNR and SSIM of each held-out image's reconstruction from its posterior mode, averaged;
    /// beside them the PSNR of the chroma alone (each pixel's RGB minus its own channel mean: on
    /// heads over white, a reconstruction that keeps shape and shading but greys out hair and
    /// clothing still scores 24–28 dB in PSNR, and only this number shows it), the PSNR of the
    /// bilinear baseline (down to the latent's size, back up), and the latents' mean and standard
    /// deviation. The grid shows, per sample, its views then their reconstructions.
    public func evaluate(on batches: [Batch], gridPath: String?) throws -> [String: Double] {
        var psnrSum = 0.0, ssimSum = 0.0, chromaSum = 0.0, baselineSum = 0.0, count = 0
        var latentSum = 0.0, latentSquare = 0.0, latentBatches = 0.0
        var rows: [[Tensor]] = []
        let f = network.configuration.downsamplingFactor
        for batch in batches where batch.count > 0 {
            let target = Self.images(batch)
            let posterior = network.posterior(target * 2 - 1)
            let reconstruction = clamp((network.decoded(posterior.mode) + 1) * 0.5, min: 0, max: 1)
            let (h, w) = (target.shape[2], target.shape[3])
            let baseline = target.resizedBilinear(height: h / f, width: w / f).resizedBilinear(height: h, width: w)
            for i in 0..<target.shape[0] {
                let (predicted, expected) = (item(reconstruction, i), item(target, i))
                let planes = [1] + expected.shape
                psnrSum += psnr(predicted, expected)
                chromaSum += chromaPSNR(predicted, expected)
                ssimSum += 1 - Double(ssimLoss(predicted.reshaped(planes), expected.reshaped(planes)).item)
                baselineSum += psnr(clamp(item(baseline, i), min: 0, max: 1), expected)
                count += 1
            }
            let (mean, square) = Self.moments(posterior.mode)
            latentSum += mean
            latentSquare += square
            latentBatches += 1
            let views = batch.images.shape[1]
            for b in 0..<batch.count where rows.count < 6 {
                let shown = (0..<min(views, 4)).map { b * views + $0 }
                rows.append(shown.map { item(target, $0) } + shown.map { item(reconstruction, $0) })
            }
        }
        if let gridPath { try ImageGrid.write(rows, to: gridPath) }
        let n = Double(max(count, 1)), m = max(latentBatches, 1)
        var out = ["psnr": psnrSum / n, "ssim": ssimSum / n, "psnr_chroma": chromaSum / n, "psnr_bilinear_baseline": baselineSum / n,
                   "latent_mean": latentSum / m, "latent_std": (latentSquare / m - (latentSum / m) * (latentSum / m)).squareRoot()]
        if let scale = measuredScalingFactor { out["scaling_factor"] = scale }
        return out
    }
}
