import ArgumentParser
import Checkpoints
import Datasets
import Diffusion
import Foundation
import Splatting
import Tensors

/// One portrait → the multi-view diffusion model's views of the same head, written as a render
/// folder (`images/cam_XXX.png` + `opencv_cameras.json`) that `relief-infer reconstruct --input`
/// reads as it is. The VAE comes from the checkpoint's `frozen_models` record.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate the six views of a head from one portrait with a trained multi-view diffusion model.",
        discussion: """
            The portrait is a square RGB or RGBA PNG of a head framed as the training renders (0° elevation, \
            50° field of view, radius 2.7), composited on white; a square image of another size is resized to \
            the model's. With --input SUBJECT --view K the subject's view K is the portrait, its azimuth is read \
            from its camera, and OUT/metrics.json scores each generated view against the subject's view at the \
            same camera when the subject has one. With --high, the low stage's views (upsampled) start the high \
            stage's two-stage residual process. Writes OUT/images/cam_XXX.png, OUT/opencv_cameras.json, \
            OUT/sheet.png (portrait | views [| ground truth]) and OUT/metrics.json. The same --seed gives the \
            same views.
            """)

    @Option(help: "The low (or only) stage: a Relief run or step folder of a model.kind mvdiffusion run.") var checkpoint: String
    @Option(help: "The high stage (two-stage residual), a run or step folder.") var high: String?
    @Option(help: "A portrait PNG (square, RGB or RGBA).") var image: String?
    @Option(help: "A subject render folder (opencv_cameras.json + images/) to take the portrait from (with --view).") var input: String?
    @Option(help: "The subject's view to use as the portrait (with --input).") var view: Int?
    @Option(help: "The portrait's azimuth in degrees (with --image; with --input it is read from the camera).") var azimuth: Double = 0
    @Option(help: "Output folder (created if missing).") var out: String
    @Option(help: "DDIM steps per stage.") var steps: Int = 50
    @Option(help: "Classifier-free guidance scale (1 = none).") var guidance: Float = 3
    @Option(help: "DDIM η (0 deterministic, 1 DDPM-like).") var eta: Float = 1
    @Option(help: "Random seed of the sampler.") var seed: UInt64 = 0
    @Option(help: "Which weights: auto (EMA once it has forgotten its start), ema or model.") var weights: WeightsChoice = .auto
    @Option(help: "Where the frozen VAE lives now, if it moved (default: the path recorded in the checkpoint).") var vae: String?

    func run() throws {
        let sampling = MultiViewDiffusionModel.Sampling(steps: steps, guidance: guidance, eta: eta)
        do { try sampling.validate() } catch let error as DiffusionConfigurationError {
            throw ValidationError("--\(error.key) \(error.message)")
        }
        let started = Date()
        let (low, lowFile) = try Self.load(checkpoint, option: "--checkpoint", weights: weights)
        guard low.configuration.stage == .low else {
            throw ValidationError("--checkpoint \(lowFile) is a \(low.configuration.stage.rawValue)-stage model; give the low stage as "
                                  + "--checkpoint and the high stage as --high")
        }
        var highStage: MultiViewDiffusionModel?
        if let high {
            let (model, file) = try Self.load(high, option: "--high", weights: weights)
            guard model.configuration.stage == .high else {
                throw ValidationError("--high \(file) is a low-stage model (its views are \(model.configuration.imageSize)², no two-stage "
                                      + "process); give a model.kind mvdiffusion run with stage: high")
            }
            guard model.configuration.lowResolutionSize == low.configuration.imageSize,
                  model.configuration.viewAzimuthsDegrees == low.configuration.viewAzimuthsDegrees else {
                throw ValidationError("--high \(file) continues a low stage at \(model.configuration.lowResolutionSize ?? 0)² with views "
                                      + "\(model.configuration.viewAzimuthsDegrees); --checkpoint generates \(low.configuration.imageSize)² "
                                      + "views \(low.configuration.viewAzimuthsDegrees)")
            }
            highStage = model
        }
        let autoencoder = try Self.frozenVAE(of: lowFile, override: vae)
        let final = highStage ?? low, size = final.configuration.imageSize
        let (portrait, portraitAzimuth, truth) = try readPortrait(size: size)
        let loaded = Date()

        var rng = Philox(seed: seed, stream: 0x67656e)
        let lowSize = low.configuration.imageSize
        let lowViews = try withoutGradients {
            let condition = autoencoder.scaledLatents(ofImages: portrait.resizedBilinear(height: lowSize, width: lowSize))
            return autoencoder.images(fromScaledLatents: try low.sample(condition: condition, sampling: sampling, rng: &rng))
        }
        let lowDone = Date()
        var views = lowViews
        if let highStage {
            views = try withoutGradients {
                let upsampled = clamp(lowViews.resizedBilinear(height: size, width: size), min: 0, max: 1)
                let latents = try highStage.sample(condition: autoencoder.scaledLatents(ofImages: portrait),
                                                   lowResolution: autoencoder.scaledLatents(ofImages: upsampled), sampling: sampling, rng: &rng)
                return autoencoder.images(fromScaledLatents: latents)
            }
        }
        let done = Date()

        let azimuths = final.configuration.viewAzimuthsDegrees.map { portraitAzimuth + $0 }
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
            }
            perView.append(entry)
        }
        if let truth { sheet.append([Tensor(repeating: 1, shape: [3, size, size])] + (0..<cameras.count).map { truth[$0] ?? Tensor(repeating: 0.15, shape: [3, size, size]) }) }
        try ImageGrid.write(sheet, to: path("sheet.png"))
        let report: [String: Any] = [
            "checkpoint": lowFile, "high": high as Any, "steps": steps, "guidance": guidance, "eta": eta, "seed": seed,
            "resolution": size, "portrait_azimuth_degrees": portraitAzimuth, "views": perView,
            "seconds": ["load": loaded.timeIntervalSince(started), "low_stage": lowDone.timeIntervalSince(loaded),
                        "high_stage": done.timeIntervalSince(lowDone)],
        ]
        try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: path("metrics.json")))
        let scored = perView.compactMap { $0["psnr"] as? Double }
        print(String(format: "%@: %d views at %d² in %.1f s (low %.1f s, high %.1f s)", out, cameras.count, size, done.timeIntervalSince(loaded),
                     lowDone.timeIntervalSince(loaded), done.timeIntervalSince(lowDone))
              + (scored.isEmpty ? "" : String(format: "; PSNR %.2f dB over %d views with ground truth", scored.reduce(0, +) / Double(scored.count), scored.count)))
    }

    func path(_ name: String) -> String { (out as NSString).appendingPathComponent(name) }

    /// A multi-view model and the weights file it came from.
    static func load(_ path: String, option: String, weights: WeightsChoice) throws -> (MultiViewDiffusionModel, String) {
        let checkpoint = try CheckpointDirectory.resolve(path: path)
        let (name, _) = try weights.file(in: checkpoint)
        let file = try checkpoint.safetensors(name)
        guard file.metadata[MultiViewDiffusionConfiguration.metadataKey] != nil else {
            throw ValidationError("\(option) \(file.path) is a '\(file.metadata["model"] ?? "unknown")' checkpoint, not a multi-view "
                                  + "diffusion model (model.kind mvdiffusion)")
        }
        return (try MultiViewDiffusionModel.load(file), file.path)
    }

    /// The VAE a diffusion checkpoint was trained in (its `frozen_models` record, or `override`).
    static func frozenVAE(of weightsFile: String, override: String?) throws -> AutoencoderKL {
        let file = try SafetensorsFile(contentsOf: URL(fileURLWithPath: weightsFile))
        let frozen = try FrozenModelSources.resolve(file, overrides: override.map { ["vae": $0] } ?? [:])
        guard let vae = frozen["vae"] else { throw ValidationError("\(weightsFile) records no frozen 'vae'") }
        return try AutoencoderKL.load(vae)
    }

    /// The portrait [1, 3, size, size] on white, its azimuth, and the ground truth per generated
    /// view when it comes from a subject that has those views.
    func readPortrait(size: Int) throws -> (Tensor, Double, [Int: Tensor]?) {
        switch (image, input) {
        case (let file?, nil):
            guard view == nil else { throw ValidationError("--view goes with --input, not --image") }
            return (try Self.readSquarePNG(file, size: size), azimuth, nil)
        case (nil, let folder?):
            guard let view else { throw ValidationError("--input needs --view K (the subject's view to use as the portrait)") }
            let subjects = try RenderFolder.subjects(in: [folder])
            guard subjects.count == 1 else { throw ValidationError("\(folder) holds \(subjects.count) subjects; give one subject folder") }
            let sample = try RenderFolder.load(subjects[0], size: (size, size))
            guard view >= 0 && view < sample.views else { throw ValidationError("--view \(view): the subject has views 0..<\(sample.views)") }
            let (images, cameras) = ReconstructCommand.tensors(of: sample, background: [1, 1, 1])
            let centre = cameras[view].center
            let portraitAzimuth = atan2(centre.x, -centre.y) * 180 / .pi
            var truth: [Int: Tensor] = [:]
            // The subject's view at each generated camera (same direction within half a degree), if any.
            for (k, offset) in (try finalOffsets()).enumerated() {
                let a = (portraitAzimuth + offset) * .pi / 180
                let wanted = SIMD3<Double>(sin(a), -cos(a), 0)
                if let match = cameras.indices.first(where: { i in
                    let c = cameras[i].center, n = (c * c).sum().squareRoot()
                    return ((c / n) * wanted).sum() > cos(0.5 * .pi / 180)
                }) { truth[k] = item(images, match) }
            }
            return (item(images, view).reshaped([1, 3, size, size]), portraitAzimuth, truth)
        default:
            throw ValidationError("give the portrait as --image PNG or as --input SUBJECT --view K (one of them)")
        }
    }

    /// The generated views' azimuths relative to the portrait.
    func finalOffsets() throws -> [Double] {
        try Self.load(high ?? checkpoint, option: high == nil ? "--checkpoint" : "--high", weights: weights).0.configuration.viewAzimuthsDegrees
    }

    /// A square RGB(A) PNG as [1, 3, size, size] on white; other shapes are refused by name.
    static func readSquarePNG(_ file: String, size: Int) throws -> Tensor {
        let (pixels, width, height, channels) = try PNG.read8(file)
        guard width == height else {
            throw ValidationError("\(file) is \(width)×\(height); the portrait must be square, the head framed as the training renders")
        }
        guard channels == 3 || channels == 4 else {
            throw ValidationError("\(file) has \(channels) channel(s); the portrait must be RGB or RGBA")
        }
        let plane = width * height
        let image = Tensor(uninitializedShape: [1, 3, height, width])
        for p in 0..<plane {
            let alpha = channels == 4 ? Float(pixels[p * 4 + 3]) / 255 : 1
            for c in 0..<3 { image.storage.base[c * plane + p] = Float(pixels[p * channels + c]) / 255 * alpha + (1 - alpha) }
        }
        return width == size ? image : clamp(image.resizedBilinear(height: size, width: size), min: 0, max: 1)
    }
}
