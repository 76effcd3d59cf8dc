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
            var name = (frame.filePath as NSString).lastPathComponent
            if name.isEmpty { name = String(format: "cam_%03d.png", i) }
            if !name.lowercased().hasSuffix(".png") { name = (name as NSString).deletingPathExtension + ".png" }
            guard names.insert(name).inserted else {
                throw ValidationError("\(cameras): frames \(i) and an earlier one share the output name \(name)")
            }
            // One view at a time: frames may differ in size.
            let rgb = scene.render([Camera(frame)], background: bg)  // [1, 3, H, W]
            let w = frame.width, h = frame.height, plane = w * h
            var bytes = [UInt8](repeating: 0, count: plane * 3)
            for p in 0..<plane {
                for c in 0..<3 {
                    let v = rgb[flat: c * plane + p]
                    bytes[p * 3 + c] = UInt8(max(0, min(255, (v * 255).rounded())))
                }
            }
            let path = (out as NSString).appendingPathComponent(name)
            try bytes.withUnsafeBufferPointer {
                try PNG.write(path, uint8: $0, width: w, height: h, channels: 3)
            }
            print("\(path)  \(w)×\(h)")
        }
    }
}
