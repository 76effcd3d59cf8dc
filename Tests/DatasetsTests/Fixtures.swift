import Datasets
import Foundation
import Splatting
import XCTest

/// Small render folders in FaceLift's layout, made with Relief's own PNG writer.
enum Fixtures {
    static func temporaryFolder(_ tag: String) throws -> String {
        let folder = NSTemporaryDirectory() + "relief-\(tag)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    /// A camera on a ring around the origin (radius 2.7, world z up), looking at the origin.
    static func orbitCamera(view: Int, of views: Int, width: Int, height: Int) -> CameraFrame {
        let azimuth = Double(view) / Double(views) * 2 * .pi
        let eye = SIMD3<Double>(2.7 * cos(azimuth), 2.7 * sin(azimuth), 0.3)
        let forward = -eye / (eye * eye).sum().squareRoot()
        let up = SIMD3<Double>(0, 0, 1)
        var right = SIMD3(forward.y * up.z - forward.z * up.y, forward.z * up.x - forward.x * up.z, forward.x * up.y - forward.y * up.x)
        right /= (right * right).sum().squareRoot()
        let down = SIMD3(forward.y * right.z - forward.z * right.y, forward.z * right.x - forward.x * right.z, forward.x * right.y - forward.y * right.x)
        let rows = [right, down, forward]
        var w2c = [Double]()
        for r in rows { w2c += [r.x, r.y, r.z, -(r * eye).sum()] }
        w2c += [0, 0, 0, 1]
        let focal = 0.5 * Double(width) / tan(25 * Double.pi / 180)
        return CameraFrame(width: width, height: height, fx: focal, fy: focal * Double(height) / Double(width),
                           cx: Double(width) / 2, cy: Double(height) / 2, w2c: w2c, filePath: CameraFrame.imagePath(view: view))
    }

    /// Deterministic RGBA8 pixels for (subject, view) with varied alpha (some 0, some 255).
    static func pixels(subject: Int, view: Int, width: Int, height: Int, channels: Int) -> [UInt8] {
        (0..<(width * height * channels)).map { i in
            let p = i / channels, c = i % channels
            if channels == 4 && c == 3 { return [0, 255, 128, 255, 37][(p + view) % 5] }
            return UInt8(truncatingIfNeeded: p * 31 + c * 67 + view * 13 + subject * 101)
        }
    }

    /// Writes `<root>/<id>/{opencv_cameras.json, images/cam_XXX.png, meta.json?}`.
    @discardableResult
    static func subject(root: String, id: String, index: Int, identity: String? = nil, views: Int = 6,
                        width: Int = 16, height: Int = 16, channels: Int = 4) throws -> String {
        let folder = root + "/" + id
        try FileManager.default.createDirectory(atPath: folder + "/images", withIntermediateDirectories: true)
        var frames = [CameraFrame]()
        for v in 0..<views {
            let frame = orbitCamera(view: v, of: views, width: width, height: height)
            let data = pixels(subject: index, view: v, width: width, height: height, channels: channels)
            try data.withUnsafeBufferPointer {
                try PNG.write(folder + "/" + frame.filePath, uint8: $0, width: width, height: height, channels: channels)
            }
            frames.append(frame)
        }
        try CameraFile(id: id, frames: frames).write(folder + "/opencv_cameras.json")
        if let identity {
            try Data(#"{"identity": "\#(identity)", "variant": "v\#(index)"}"#.utf8).write(to: URL(fileURLWithPath: folder + "/meta.json"))
        }
        return folder
    }

    /// Writes a subject like `subject`, but with the given cameras (e.g. an `OrbitRig` preset's) in
    /// the given file order; pixels depend on (index, camera position in `cameras`).
    @discardableResult
    static func rigSubject(root: String, id: String, index: Int, identity: String? = nil, cameras: [Camera],
                           order: [Int]? = nil) throws -> String {
        let folder = root + "/" + id
        try FileManager.default.createDirectory(atPath: folder + "/images", withIntermediateDirectories: true)
        var frames = [CameraFrame]()
        for (file, v) in (order ?? Array(cameras.indices)).enumerated() {
            let c = cameras[v], frame = c.frame(filePath: CameraFrame.imagePath(view: file))
            let data = pixels(subject: index, view: v, width: c.width, height: c.height, channels: 4)
            try data.withUnsafeBufferPointer { try PNG.write(folder + "/" + frame.filePath, uint8: $0, width: c.width, height: c.height, channels: 4) }
            frames.append(frame)
        }
        try CameraFile(id: id, frames: frames).write(folder + "/opencv_cameras.json")
        try Data(#"{"identity": "\#(identity ?? id)", "variant": "v\#(index)"}"#.utf8).write(to: URL(fileURLWithPath: folder + "/meta.json"))
        return folder
    }

    /// Files in `folder` (including hidden temporaries), sorted.
    static func listing(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }
}
