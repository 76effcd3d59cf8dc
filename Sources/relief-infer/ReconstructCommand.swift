import ArgumentParser
import Checkpoints
import Datasets
import Foundation
import Reconstruction
import Splatting
import Tensors

/// Posed views of one subject in, 3D Gaussians out: the trained GS-LRM's inference. Reads only the
/// checkpoint (its model configuration travels in the safetensors metadata).
struct ReconstructCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconstruct",
        abstract: "Reconstruct a subject's Gaussians from posed views with a trained GS-LRM checkpoint.",
        discussion: """
            Writes OUT/gaussians.ply (3DGS layout, Gaussians under --min-opacity dropped), OUT/renders/ (every frame \
            of the subject's cameras), OUT/turntable/ (36 frames around the head) and, when the subject has images \
            for views that were not inputs, OUT/metrics.json with PSNR and SSIM per novel view (a missing non-input \
            image is skipped with a note; a missing input image is an error). Fewer input views than the model was \
            trained on are accepted with a warning (expect a worse reconstruction). --checkpoint takes any complete \
            checkpoint folder, whatever its name. --weights auto uses the EMA weights once less than 1 % of the \
            average is still its initial (untrained) weights, else the raw model weights, and says which and why.
            """)

    enum Background: String, ExpressibleByArgument { case white, black }

    @Option(help: "Checkpoint: a checkpoint folder (step-XXXXXXXX or any folder holding model.safetensors) or a run folder (its latest).")
    var checkpoint: String
    @Option(help: "Subject render folder (opencv_cameras.json + images/), any resolution.") var input: String
    @Option(help: "Output folder (created if missing).") var out: String
    @Option(help: "Input views, comma-separated frame indices (default: the trained count, evenly spaced).")
    var views: String?
    @Option(help: "Background the images are composited on and rendered over.") var background: Background = .white
    @Option(help: "Gaussians below this opacity are left out of the PLY.") var minOpacity: Float = 0.05
    @Option(help: "Weights: auto (EMA once it has left its initial weights behind, else raw), ema, or model.")
    var weights: WeightsChoice = .auto
    @Flag(help: "Same as --weights model.") var noEMA = false

    func run() throws {
        let source = try CheckpointDirectory.resolve(path: checkpoint)
        let (name, reason) = try (noEMA ? .model : weights).file(in: source)
        let weightsFile = source.file(name).path
        print("\(weightsFile): \(reason)")
        let model = try GSLRM.load(try source.safetensors(name))
        let c = model.configuration
        let subjects = try RenderFolder.subjects(in: [input])
        guard subjects.count == 1 else {
            throw ValidationError("\(input) holds \(subjects.count) subjects; give one subject folder")
        }
        let frames = try CameraFile.read(subjects[0].camerasPath).frames
        let inputViews = try chosenViews(total: frames.count, trained: c.inputViews)
        if inputViews.count < c.inputViews {
            FileHandle.standardError.write(Data(("warning: \(inputViews.count) input view(s) given, the model was trained on \(c.inputViews); "
                + "it runs, but expect a worse reconstruction than with \(c.inputViews)\n").utf8))
        }
        let sample = try RenderFolder.load(subjects[0], size: (c.resolution, c.resolution),
                                           optional: Set(0..<frames.count).subtracting(inputViews))
        if !sample.missingViews.isEmpty {
            print("note: no image for view(s) \(sample.missingViews.map(String.init).joined(separator: ", ")) "
                  + "(\(frames[sample.missingViews[0]].filePath)\(sample.missingViews.count > 1 ? ", …" : "")): rendered, not scored")
        }
        let colour: SIMD3<Float> = background == .white ? [1, 1, 1] : [0, 0, 0]
        let (images, cameras) = Self.tensors(of: sample, background: colour)
        print("\(weightsFile): GS-LRM width \(c.width), \(c.layers) blocks, \(c.resolution)²; "
              + "\(subjects[0].id): \(sample.views) views, inputs \(inputViews.map(String.init).joined(separator: ","))")

        let gaussians = withoutGradients {
            model.reconstruct(images: images.indexSelect(axis: 0, indices: inputViews).reshaped([1, inputViews.count, 3, c.resolution, c.resolution]),
                              cameras: [inputViews.map { cameras[$0] }])
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let scene = gaussians.scene(sample: 0, minOpacity: minOpacity)
        try GaussianPLY.write(scene, to: URL(fileURLWithPath: path("gaussians.ply")))
        print("\(path("gaussians.ply")): \(scene.count) of \(gaussians.count) Gaussians (opacity ≥ \(minOpacity))")

        let white = Tensor([colour.x, colour.y, colour.z], shape: [1, 3])
        let rendered = withoutGradients { gaussians.render([cameras], backgrounds: white).rgb }  // [1, V, 3, H, W]
        try FileManager.default.createDirectory(atPath: path("renders"), withIntermediateDirectories: true)
        var metrics: [[String: Any]] = []
        for v in 0..<sample.views {
            let prediction = rendered.sliced(axis: 1, range: v..<(v + 1)).reshaped([1, 3, c.resolution, c.resolution])
            try writeRGB(prediction, to: path("renders/" + frameImageName(frames[v].filePath, index: v)))
            guard !inputViews.contains(v), !sample.missingViews.contains(v) else { continue }
            let truth = images.sliced(axis: 0, range: v..<(v + 1))
            metrics.append(["view": v, "psnr": psnr(prediction, truth), "ssim": 1 - Double(ssimLoss(prediction, truth)[flat: 0])])
        }
        print("\(path("renders")): \(sample.views) frames")

        let turntable = Self.turntable(around: cameras[0], frames: 36)
        let spin = withoutGradients { gaussians.render([turntable], backgrounds: white).rgb }
        try FileManager.default.createDirectory(atPath: path("turntable"), withIntermediateDirectories: true)
        for f in 0..<turntable.count {
            try writeRGB(spin.sliced(axis: 1, range: f..<(f + 1)), to: path(String(format: "turntable/frame_%03d.png", f)))
        }
        print("\(path("turntable")): \(turntable.count) frames")

        if !metrics.isEmpty {
            let mean = { (key: String) in metrics.map { $0[key] as! Double }.reduce(0, +) / Double(metrics.count) }
            let report: [String: Any] = ["checkpoint": weightsFile, "subject": subjects[0].id, "input_views": inputViews,
                                         "resolution": c.resolution, "novel_views": metrics,
                                         "mean_psnr": mean("psnr"), "mean_ssim": mean("ssim")]
            let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: path("metrics.json")))
            print(String(format: "%@: %d novel views, PSNR %.2f dB, SSIM %.4f", path("metrics.json"), metrics.count,
                         mean("psnr"), mean("ssim")))
        }
    }

    func path(_ name: String) -> String { (out as NSString).appendingPathComponent(name) }

    func chosenViews(total: Int, trained: Int) throws -> [Int] {
        guard let views else { return (0..<min(trained, total)).map { $0 * total / min(trained, total) } }
        let parsed = views.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parsed.isEmpty, parsed.allSatisfy({ $0 != nil && $0! >= 0 && $0! < total }) else {
            throw ValidationError("--views '\(views)': expected comma-separated frame indices in 0..<\(total)")
        }
        let chosen = parsed.map { $0! }
        guard Set(chosen).count == chosen.count else { throw ValidationError("--views '\(views)' repeats a view") }
        return chosen
    }

    /// Every view composited on `background` ([V, 3, H, W]) and its camera.
    static func tensors(of s: SubjectSample, background: SIMD3<Float>) -> (Tensor, [Camera]) {
        let plane = s.height * s.width
        let images = Tensor(uninitializedShape: [s.views, 3, s.height, s.width])
        let alpha = Tensor(uninitializedShape: [plane])
        s.rgba.withUnsafeBufferPointer { rgba in
            for v in 0..<s.views {
                BatchAssembler.composite(rgba.baseAddress! + v * plane * 4, count: plane, background: background,
                                         rgb: images.storage.base + v * 3 * plane, alpha: alpha.storage.base)
            }
        }
        let cameras = s.intrinsics.withUnsafeBufferPointer { k in
            s.w2c.withUnsafeBufferPointer { m in
                (0..<s.views).map { Camera(width: s.width, height: s.height, intrinsics: k.baseAddress! + 4 * $0,
                                           worldToCamera: m.baseAddress! + 16 * $0) }
            }
        }
        return (images, cameras)
    }

    /// `frames` views orbiting the world origin at `reference`'s distance, elevation and intrinsics.
    static func turntable(around reference: Camera, frames: Int) -> [Camera] {
        let centre = reference.center
        let radius = (centre * centre).sum().squareRoot()
        let elevation = asin(centre.z / radius) * 180 / .pi
        return (0..<frames).map { f in
            var camera = OrbitRig.camera(azimuthDegrees: Double(f) * 360 / Double(frames), elevationDegrees: elevation, radius: radius,
                                         width: reference.width, height: reference.height)
            (camera.fx, camera.fy, camera.cx, camera.cy) = (reference.fx, reference.fy, reference.cx, reference.cy)
            return camera
        }
    }
}
