import ArgumentParser
import Checkpoints
import Datasets
import Diffusion
import Foundation
import Tensors

/// A subject's views through a trained VAE: reconstructions, their PSNR/SSIM and the latents'
/// statistics. The VAE is a Relief run / checkpoint (configuration in its metadata) or a
/// diffusers AutoencoderKL folder.
struct VAECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae",
        abstract: "Encode and decode a subject's views with a VAE; report PSNR/SSIM and latent statistics.",
        discussion: """
            Writes OUT/reconstructions/ (one PNG per view, decoded from the posterior mean), OUT/grid.png \
            (views above, reconstructions below), OUT/tensors.safetensors (input in [-1, 1], posterior mean and \
            log-variance, raw decoding) and OUT/metrics.json (PSNR and SSIM per view and their means; \
            latent mean, standard deviation and per-channel statistics; the scaling factor they imply beside \
            the configured one).
            """)

    @Option(help: "A Relief run or step folder, or a diffusers AutoencoderKL folder (config.json + diffusion_pytorch_model.safetensors).")
    var checkpoint: String
    @Option(help: "Subject render folder (opencv_cameras.json + images/).") var input: String
    @Option(help: "Output folder (created if missing).") var out: String
    @Option(help: "Image size the views are resized to (default: the configuration's sample_size).") var size: Int?
    @Option(help: "Background the RGBA views are composited on.") var background: ReconstructCommand.Background = .white
    @Flag(help: "Use model.safetensors even when the checkpoint has EMA weights.") var noEMA = false

    func run() throws {
        let (model, source) = try AutoencoderKL.load(path: checkpoint, preferEMA: !noEMA)
        let c = model.configuration
        let side = size ?? c.sampleSize
        let subjects = try RenderFolder.subjects(in: [input])
        guard subjects.count == 1 else { throw ValidationError("\(input) holds \(subjects.count) subjects; give one subject folder") }
        let sample = try RenderFolder.load(subjects[0], size: (side, side))
        let colour: SIMD3<Float> = background == .white ? [1, 1, 1] : [0, 0, 0]
        let (images, _) = ReconstructCommand.tensors(of: sample, background: colour)
        print("\(source): AutoencoderKL \(c.blockOutChannels), \(c.latentChannels) latent channels, factor \(c.downsamplingFactor); "
              + "\(subjects[0].id): \(sample.views) views at \(side)²")

        let input = images * 2 - 1
        let (posterior, decoded) = try withoutGradients { () throws -> (DiagonalGaussian, Tensor) in
            let posterior = try model.encode(input)
            return (posterior, try model.decode(posterior.mean))
        }
        let mean = posterior.mean
        let reconstructions = clamp((decoded + 1) * 0.5, min: 0, max: 1)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        // The raw tensors, for comparing with another implementation (scripts/checks/vae_export_check.py).
        try Safetensors.write(["input": input, "mean": mean, "logvar": posterior.logVariance, "decoded": decoded],
                              metadata: ["checkpoint": source], to: URL(fileURLWithPath: path("tensors.safetensors")))
        let frames = try CameraFile.read(subjects[0].camerasPath).frames
        try FileManager.default.createDirectory(atPath: path("reconstructions"), withIntermediateDirectories: true)
        var perView: [[String: Any]] = []
        for v in 0..<sample.views {
            let (predicted, truth) = (reconstructions.sliced(axis: 0, range: v..<(v + 1)), images.sliced(axis: 0, range: v..<(v + 1)))
            try writeRGB(predicted, to: path("reconstructions/" + frameImageName(frames[v].filePath, index: v)))
            perView.append(["view": v, "psnr": psnr(predicted, truth), "psnr_chroma": chromaPSNR(predicted, truth),
                            "ssim": 1 - Double(ssimLoss(predicted, truth).item)])
        }
        try writeGrid(views: images, reconstructions: reconstructions, to: path("grid.png"))

        let stats = LatentStatistics(mean)
        let average = { (key: String) in perView.map { $0[key] as! Double }.reduce(0, +) / Double(perView.count) }
        let report: [String: Any] = [
            "checkpoint": source, "subject": subjects[0].id, "resolution": side, "views": perView,
            "mean_psnr": average("psnr"), "mean_ssim": average("ssim"), "mean_psnr_chroma": average("psnr_chroma"),
            "latent_shape": mean.shape, "latent_mean": stats.mean, "latent_std": stats.std,
            "latent_channel_mean": stats.channelMean, "latent_channel_std": stats.channelStd,
            "configured_scaling_factor": c.scalingFactor, "implied_scaling_factor": stats.std > 0 ? 1 / stats.std : 0,
        ]
        let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: path("metrics.json")))
        print(String(format: "%@: %d views, PSNR %.2f dB, SSIM %.4f, chroma PSNR %.2f dB; latents %@ mean %.3f std %.3f (scaling factor %.4f configured)",
                     path("metrics.json"), sample.views, average("psnr"), average("ssim"), average("psnr_chroma"), "\(mean.shape)", stats.mean, stats.std,
                     c.scalingFactor))
    }

    func path(_ name: String) -> String { (out as NSString).appendingPathComponent(name) }

    /// Two rows per 8 views: the views, then their reconstructions.
    func writeGrid(views: Tensor, reconstructions: Tensor, to file: String) throws {
        let (n, h, w) = (views.shape[0], views.shape[2], views.shape[3])
        let columns = min(n, 8), rows = (n + columns - 1) / columns * 2, gap = 2
        let canvas = Tensor(repeating: 0.15, shape: [3, rows * (h + gap) + gap, columns * (w + gap) + gap])
        let (ch, cw) = (canvas.shape[1], canvas.shape[2])
        for v in 0..<n {
            for (r, source) in [(v / columns * 2, views), (v / columns * 2 + 1, reconstructions)] {
                let (y0, x0) = (gap + r * (h + gap), gap + (v % columns) * (w + gap))
                for c in 0..<3 { for y in 0..<h { for x in 0..<w {
                    canvas.storage.base[c * ch * cw + (y0 + y) * cw + x0 + x] = source[flat: ((v * 3 + c) * h + y) * w + x]
                } } }
            }
        }
        try writeRGB(canvas, to: file)
    }
}

/// Mean and standard deviation of latents [N, z, h, w], overall and per channel.
struct LatentStatistics {
    var mean = 0.0, std = 0.0
    var channelMean: [Double] = [], channelStd: [Double] = []

    init(_ latents: Tensor) {
        let (n, z, plane) = (latents.shape[0], latents.shape[1], latents.shape[2] * latents.shape[3])
        var sum = 0.0, square = 0.0
        for channel in 0..<z {
            var s = 0.0, q = 0.0
            for i in 0..<n { for p in 0..<plane { let v = Double(latents[flat: (i * z + channel) * plane + p]); s += v; q += v * v } }
            let m = s / Double(n * plane)
            channelMean.append(m)
            channelStd.append(max(q / Double(n * plane) - m * m, 0).squareRoot())
            sum += s
            square += q
        }
        mean = sum / Double(latents.count)
        std = max(square / Double(latents.count) - mean * mean, 0).squareRoot()
    }
}
