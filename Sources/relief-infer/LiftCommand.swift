import ArgumentParser
import Checkpoints
import Datasets
import Diffusion
import Foundation
import Identity
import Lifting
import Reconstruction
import Splatting
import Tensors

/// One portrait → a 3D Gaussian head: the whole pipeline, diffusion then reconstruction.
struct LiftCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lift",
        abstract: "Lift one portrait to a 3D Gaussian head: multi-view diffusion, then the GS-LRM on the generated views.",
        discussion: """
            Writes OUT/views/ (the generated views as a render folder: images/cam_XXX.png + opencv_cameras.json), \
            OUT/sheet.png (portrait | generated views [| ground truth at their cameras]), OUT/gaussians.ply (3DGS \
            layout), OUT/renders/, OUT/turntable/frame_XXX.png (36 frames around the head at 0° elevation; also \
            OUT/turntable.mp4 when ffmpeg is on the PATH) and OUT/metrics.json (seconds per stage; with --input, \
            PSNR and SSIM — and CSIM with --identity — of every view of the subject rendered from the Gaussians, \
            averaged over all views and per elevation). The portrait is read as by `generate` (RGBA reframed, RGB only square on white). \
            With --input the subject may be any folder of RGBA head renders with opencv_cameras.json (any \
            resolution: resized to the reconstructor's).
            """)

    @Option(help: "The multi-view diffusion stages: LOW or LOW,HIGH (model.kind mvdiffusion run or step folders).") var diffusion: String
    @Option(help: "The GS-LRM: a model.kind gslrm run or step folder.") var reconstructor: String
    @OptionGroup var portraitOptions: PortraitOptions
    @Option(help: "Output folder (created if missing).") var out: String
    @OptionGroup var sampler: SamplingOptions
    @Option(help: "Which weights of every model: auto, ema or model.") var weights: WeightsChoice = .auto
    @Option(help: "Where the diffusion model's frozen VAE lives now, if it moved.") var vae: String?
    @Option(help: "Gaussians below this opacity are left out of the PLY.") var minOpacity: Float = 0.05
    @Option(help: "With --input: an identity encoder (model.kind identity run or step folder) to score CSIM of every view with.")
    var identity: String?

    func run() throws {
        let sampling = try sampler.sampling()
        let started = Date()
        let lifter = try Self.lifter(diffusion: diffusion, reconstructor: reconstructor, weights: weights, vae: vae)
        if let mismatch = lifter.mismatch { FileHandle.standardError.write(Data("warning: \(mismatch)\n".utf8)) }
        let r = lifter.resolution
        let portrait = try portraitOptions.read(size: r)
        guard identity == nil || portrait.subject != nil else { throw ValidationError("--identity scores against ground truth: it goes with --input") }
        let encoder = try identity.map { try IdentityEncoder.load(path: $0).encoder }
        let loaded = Date()

        var rng = Philox(seed: sampler.seed, stream: 0x6c696674)
        let lift = try lifter.lift(portrait.image, azimuthDegrees: portrait.azimuthDegrees, sampling: sampling, rng: &rng)
        let v = lift.cameras.count, size = lifter.diffusion.imageSize

        let writing = Date()
        try FileManager.default.createDirectory(atPath: path("views/images"), withIntermediateDirectories: true)
        let generatedCameras = lift.cameras.map { $0.resized(width: size, height: size) }
        for k in 0..<v { try writeRGB(item(lift.views, k), to: path("views/" + CameraFrame.imagePath(view: k))) }
        try CameraFile(id: "generated", cameras: generatedCameras).write(path("views/opencv_cameras.json"))
        let truthAtViews = portrait.truth(atAzimuths: lifter.diffusion.viewAzimuthsDegrees.map { portrait.azimuthDegrees + $0 })
        var sheet: [[Tensor]] = [[item(Self.square(portrait.image, size), 0)] + (0..<v).map { item(lift.views, $0) }]
        if !truthAtViews.isEmpty {
            sheet.append([Tensor(repeating: 1, shape: [3, size, size])]
                         + (0..<v).map { truthAtViews[$0].map { item(Self.square($0.reshaped([1, 3, r, r]), size), 0) } ?? Tensor(repeating: 0.15, shape: [3, size, size]) })
        }
        try ImageGrid.write(sheet, to: path("sheet.png"))

        let scene = lift.gaussians.scene(sample: 0, minOpacity: minOpacity)
        try GaussianPLY.write(scene, to: URL(fileURLWithPath: path("gaussians.ply")))

        let renderStart = Date()
        let cameras = portrait.subject?.cameras ?? lift.cameras
        let names = portrait.subject.map { s in s.frames.indices.map { frameImageName(s.frames[$0].filePath, index: $0) } }
            ?? (0..<v).map { String(format: "cam_%03d.png", $0) }
        let rendered = HeadLifter.render(lift.gaussians, at: cameras)
        try FileManager.default.createDirectory(atPath: path("renders"), withIntermediateDirectories: true)
        for k in 0..<cameras.count { try writeRGB(item(rendered, k), to: path("renders/" + names[k])) }
        let turntable = ReconstructCommand.turntable(around: lift.cameras[0], frames: 36)
        let spin = HeadLifter.render(lift.gaussians, at: turntable)
        try FileManager.default.createDirectory(atPath: path("turntable"), withIntermediateDirectories: true)
        for f in 0..<turntable.count { try writeRGB(item(spin, f), to: path(String(format: "turntable/frame_%03d.png", f))) }
        let renderSeconds = Date().timeIntervalSince(renderStart)
        let movie = Self.encodeMovie(frames: path("turntable/frame_%03d.png"), to: path("turntable.mp4"))

        var report: [String: Any] = sampler.report.merging([
            "diffusion": diffusion, "reconstructor": reconstructor,
            "portrait": portraitOptions.source, "portrait_azimuth_degrees": portrait.azimuthDegrees,
            "diffusion_resolution": size, "reconstructor_resolution": r, "gaussians": lift.gaussians.count, "gaussians_in_ply": scene.count,
            "generated_azimuths_degrees": lifter.diffusion.viewAzimuthsDegrees.map { portrait.azimuthDegrees + $0 },
            "seconds": ["load": loaded.timeIntervalSince(started), "low_stage": lift.seconds.lowStage, "high_stage": lift.seconds.highStage,
                        "reconstruction": lift.seconds.reconstruction, "lift": lift.seconds.total,
                        "write_views_and_ply": renderStart.timeIntervalSince(writing), "render": renderSeconds],
        ]) { $1 }
        var summary = ""
        if let subject = portrait.subject {
            var scores = ViewScores(views: cameras.count)
            scores.add(rendered, subject.images)
            let elevations = cameras.map { c -> Int in
                let centre = c.center
                return Int((asin(centre.z / (centre * centre).sum().squareRoot()) * 180 / .pi).rounded())
            }
            report["subject"] = subject.id
            let csim = encoder?.csim(rendered, subject.images)
            func entry(_ views: [Int]) -> [String: Any] {
                let mean = scores.mean(over: views)
                var out: [String: Any] = ["psnr": mean.psnr, "ssim": mean.ssim, "count": views.count]
                if let csim { out["csim"] = views.map { csim[$0] }.reduce(0, +) / Double(views.count) }
                return out
            }
            report["views"] = cameras.indices.map { ["view": $0, "elevation_degrees": elevations[$0]].merging(entry([$0])) { $1 } }
            let all = scores.mean(over: Array(cameras.indices))
            report["all_views"] = entry(Array(cameras.indices))
            report["by_elevation"] = Dictionary(grouping: cameras.indices, by: { elevations[$0] }).mapValues(entry)
                .reduce(into: [String: Any]()) { $0[String($1.key)] = $1.value }
            if let identity { report["identity_encoder"] = identity }
            summary = String(format: "; PSNR %.2f dB, SSIM %.4f over the subject's %d views", all.psnr, all.ssim, cameras.count)
        }
        try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: path("metrics.json")))
        print(String(format: "%@: lifted in %.1f s (low stage %.1f s, high stage %.1f s, reconstruction %.2f s)", out, lift.seconds.total,
                     lift.seconds.lowStage, lift.seconds.highStage, lift.seconds.reconstruction) + summary)
        print("views:      \(path("views/images")) (sheet: \(path("sheet.png")))")
        print("Gaussians:  \(path("gaussians.ply")) (\(scene.count) of \(lift.gaussians.count), opacity ≥ \(minOpacity))")
        print("turntable:  \(path("turntable"))/" + (movie ? " and \(path("turntable.mp4"))" : " (no ffmpeg on the PATH: PNG frames only)"))
        print("metrics:    \(path("metrics.json"))")
    }

    func path(_ name: String) -> String { (out as NSString).appendingPathComponent(name) }

    /// The lifter for `--diffusion LOW[,HIGH]` and `--reconstructor RUN`.
    static func lifter(diffusion: String, reconstructor: String, weights: WeightsChoice, vae: String?) throws -> HeadLifter {
        let stages = diffusion.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(stages.count), !stages.contains(where: \.isEmpty) else {
            throw ValidationError("--diffusion '\(diffusion)': expected LOW or LOW,HIGH (run or step folders)")
        }
        let pipeline = try GenerateCommand.pipeline(low: stages[0], high: stages.count == 2 ? stages[1] : nil, weights: weights, vae: vae)
        let source = try CheckpointDirectory.resolve(path: reconstructor)
        let file = try source.safetensors(try weights.file(in: source).name)
        guard file.metadata[GSLRMConfiguration.metadataKey] != nil else {
            throw ValidationError("--reconstructor \(file.path) is a '\(file.metadata["model"] ?? "unknown")' checkpoint, not a GS-LRM (model.kind gslrm)")
        }
        return HeadLifter(diffusion: pipeline, reconstructor: try GSLRM.load(file))
    }

    static func square(_ image: Tensor, _ size: Int) -> Tensor {
        image.shape[2] == size ? image : clamp(image.resizedBilinear(height: size, width: size), min: 0, max: 1)
    }

    /// Encodes PNG frames into an H.264 MP4 with ffmpeg, when ffmpeg is on the PATH; false otherwise.
    static func encodeMovie(frames pattern: String, to file: String) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ffmpeg", "-y", "-loglevel", "error", "-framerate", "12", "-i", pattern,
                             "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-pix_fmt", "yuv420p", file]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0 && FileManager.default.fileExists(atPath: file)
    }
}
