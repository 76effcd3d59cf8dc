import ArgumentParser
import Datasets
import Foundation
import Splatting
import Tensors

/// Renders a 3DGS PLY into the views of a FaceLift camera file, one 8-bit RGB PNG per frame.
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render a Gaussian PLY into the frames of an opencv_cameras.json.",
        discussion: "Writes one 8-bit RGB PNG per frame, named after the frame's file_path base name, in frame order.")

    enum Background: String, ExpressibleByArgument { case white, black }

    @Option(help: "3DGS PLY scene.") var ply: String
    @Option(help: "FaceLift opencv_cameras.json.") var cameras: String
    @Option(help: "Output folder (created if missing).") var out: String
    @Option(help: "Background colour: white or black.") var background: Background = .white

    func run() throws {
        let scene = try GaussianPLY.read(URL(fileURLWithPath: ply))
        let file = try CameraFile.read(cameras)
        guard !file.frames.isEmpty else { throw ValidationError("\(cameras): no frames") }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let bg: SIMD3<Float> = background == .white ? [1, 1, 1] : [0, 0, 0]
        var names = Set<String>()
        for (i, frame) in file.frames.enumerated() {
            let name = frameImageName(frame.filePath, index: i)
            guard names.insert(name).inserted else {
                throw ValidationError("\(cameras): frames \(i) and an earlier one share the output name \(name)")
            }
            // One view at a time: frames may differ in size.
            let rgb = scene.render([Camera(frame)], background: bg)  // [1, 3, H, W]
            let path = (out as NSString).appendingPathComponent(name)
            try writeRGB(rgb, to: path)
            let (w, h) = (frame.width, frame.height)
            print("\(path)  \(w)×\(h)")
        }
    }
}
