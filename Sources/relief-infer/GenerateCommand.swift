import ArgumentParser
import Checkpoints
import Datasets
import Diffusion
import Foundation
import Identity
import Splatting
import Tensors

/// One portrait → the multi-view diffusion model's views of the same head, written as a render
/// folder (`images/cam_XXX.png` + `opencv_cameras.json`) that `relief-infer reconstruct --input`
/// reads as it is. The VAE (and an identity-guided model's identity encoder) come from the
/// checkpoint's `frozen_models` record.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate the six views of a head from one portrait with a trained multi-view diffusion model.",
        discussion: """
            The portrait is a PNG of a head seen from 0° elevation. RGBA of any size, aspect or placement is \
            cropped to the training framing (the head's alpha box 0.83 of the height, centred at 0.585) and \
            composited on white; RGB must already be square, on white and framed as the training renders (else \
            it is refused). With --input SUBJECT --view K the subject's view K is the portrait, its azimuth is read \
            from its camera, and OUT/metrics.json scores each generated view against the subject's view at the \
            same camera when the subject has one (PSNR, SSIM; CSIM with --identity). With --high, the low stage's views (upsampled) start the high \
            stage's two-stage residual process. Writes OUT/images/cam_XXX.png, OUT/opencv_cameras.json, \
            OUT/sheet.png (portrait | views [| ground truth]) and OUT/metrics.json. The same --seed gives the \
            same views.
            """)

    @Option(help: "The low (or only) stage: a Relief run or step folder of a model.kind mvdiffusion run.") var checkpoint: String
    @Option(help: "The high stage (two-stage residual), a run or step folder.") var high: String?
    @OptionGroup var portraitOptions: PortraitOptions
    @Option(help: "Output folder (created if missing).") var out: String
    @OptionGroup var sampler: SamplingOptions
    @Option(help: "Which weights: auto (EMA once it has forgotten its start), ema or model.") var weights: WeightsChoice = .auto
    @Option(help: "Where the frozen VAE lives now, if it moved (default: the path recorded in the checkpoint).") var vae: String?
    @Option(help: "With --input: an identity encoder (model.kind identity run or step folder) to score CSIM of each view with ground truth.")
    var identity: String?

    func run() throws {
        let sampling = try sampler.sampling()
        let started = Date()
        let pipeline = try Self.pipeline(low: checkpoint, high: high, weights: weights, vae: vae)
        let size = pipeline.imageSize
        let source = try portraitOptions.read(size: size)
        guard identity == nil || source.subject != nil else { throw ValidationError("--identity scores against ground truth: it goes with --input") }
        let encoder = try identity.map { try IdentityEncoder.load(path: $0).encoder }
        let (portrait, portraitAzimuth) = (source.image, source.azimuthDegrees)
        let truth = source.subject == nil ? nil : source.truth(atAzimuths: pipeline.viewAzimuthsDegrees.map { portraitAzimuth + $0 })
        let loaded = Date()
        var rng = Philox(seed: sampler.seed, stream: 0x67656e)
        let output = try pipeline.generate(portrait, sampling: sampling, rng: &rng)
        let views = output.views

        let azimuths = pipeline.viewAzimuthsDegrees.map { portraitAzimuth + $0 }
        let cameras = azimuths.map { OrbitRig.camera(azimuthDegrees: $0, elevationDegrees: 0, width: size, height: size) }
        try FileManager.default.createDirectory(atPath: path("images"), withIntermediateDirectories: true)
        for v in 0..<cameras.count { try writeRGB(item(views, v), to: path(CameraFrame.imagePath(view: v))) }
        try CameraFile(id: "generated", cameras: cameras).write(path("opencv_cameras.json"))
        var sheet: [[Tensor]] = [[portrait.reshaped([3, size, size])] + (0..<cameras.count).map { item(views, $0) }]

        var perView: [[String: Any]] = []
        for (v, azimuth) in azimuths.enumerated() {
            var entry: [String: Any] = ["view": v, "azimuth_degrees": azimuth]
            if let expected = truth?[v] {
                entry["psnr"] = psnr(item(views, v), expected)
                entry["ssim"] = 1 - Double(ssimLoss(item(views, v).reshaped([1, 3, size, size]), expected.reshaped([1, 3, size, size])).item)
                if let encoder { entry["csim"] = encoder.csim(views.sliced(axis: 0, range: v..<(v + 1)), expected.reshaped([1, 3, size, size]))[0] }
            }
            perView.append(entry)
        }
        if let truth { sheet.append([Tensor(repeating: 1, shape: [3, size, size])] + (0..<cameras.count).map { truth[$0] ?? Tensor(repeating: 0.15, shape: [3, size, size]) }) }
        try ImageGrid.write(sheet, to: path("sheet.png"))
        let report: [String: Any] = sampler.report.merging([
            "checkpoint": checkpoint, "high": high ?? NSNull(), "identity_encoder": identity ?? NSNull(),
            "resolution": size, "portrait_azimuth_degrees": portraitAzimuth, "views": perView,
            "seconds": ["load": loaded.timeIntervalSince(started), "low_stage": output.lowSeconds, "high_stage": output.highSeconds],
        ]) { $1 }
        try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: path("metrics.json")))
        let scored = perView.compactMap { $0["psnr"] as? Double }
        print(String(format: "%@: %d views at %d² in %.1f s (low %.1f s, high %.1f s)", out, cameras.count, size,
                     output.lowSeconds + output.highSeconds, output.lowSeconds, output.highSeconds)
              + (scored.isEmpty ? "" : String(format: "; PSNR %.2f dB over %d views with ground truth", scored.reduce(0, +) / Double(scored.count), scored.count)))
    }

    func path(_ name: String) -> String { (out as NSString).appendingPathComponent(name) }

    /// The stages named by `--checkpoint` / `--high` and the VAE they were trained in.
    static func pipeline(low: String, high: String?, weights: WeightsChoice, vae override: String?) throws -> MultiViewPipeline {
        let (lowModel, lowFile) = try load(low, option: "--checkpoint", weights: weights)
        let lowVAE = try FrozenModelSources.read(lowFile)["vae"]
        var highModel: MultiViewDiffusionModel?
        var identityFile = try FrozenModelSources.resolve(lowFile)["identity"]
        if let high {
            let (model, file) = try load(high, option: "--high", weights: weights)
            let highVAE = try FrozenModelSources.read(file)["vae"]
            guard highVAE?.sha256 == lowVAE?.sha256 else {
                throw ValidationError("--high \(file.path) was trained in the VAE \(highVAE?.path ?? "(none recorded)"), --checkpoint in "
                                      + "\(lowVAE?.path ?? "(none recorded)"): the stages must share one latent space")
            }
            highModel = model
            let highIdentity = try FrozenModelSources.resolve(file)["identity"]
            if let a = identityFile, let b = highIdentity, a.path != b.path {
                throw ValidationError("--high \(file.path) is guided by the identity encoder \(b.path), --checkpoint by \(a.path): "
                                      + "both stages must take one portrait embedding")
            }
            identityFile = identityFile ?? highIdentity
        }
        let frozen = try FrozenModelSources.resolve(lowFile, overrides: override.map { ["vae": $0] } ?? [:])
        guard let vaeFile = frozen["vae"] else { throw ValidationError("\(lowFile.path) records no frozen 'vae'") }
        do {
            let encoder = try identityFile.map { try IdentityEncoder.load($0) }
            return try MultiViewPipeline(low: lowModel, high: highModel, vae: try AutoencoderKL.load(vaeFile),
                                         identity: encoder.map { e in { e($0) } })
        } catch let error as MultiViewPipelineError {
            throw ValidationError("--checkpoint \(low)" + (high.map { " --high \($0)" } ?? "") + ": \(error.message)")
        }
    }

    /// A multi-view model and the weights file it came from.
    static func load(_ path: String, option: String, weights: WeightsChoice) throws -> (MultiViewDiffusionModel, SafetensorsFile) {
        let checkpoint = try CheckpointDirectory.resolve(path: path)
        let (name, _) = try weights.file(in: checkpoint)
        let file = try checkpoint.safetensors(name)
        guard file.metadata[MultiViewDiffusionConfiguration.metadataKey] != nil else {
            throw ValidationError("\(option) \(file.path) is a '\(file.metadata["model"] ?? "unknown")' checkpoint, not a multi-view "
                                  + "diffusion model (model.kind mvdiffusion)")
        }
        return (try MultiViewDiffusionModel.load(file), file)
    }
}
