import Foundation

/// FaceLift's `opencv_cameras.json`: `{"id", "frames": [{"w","h","fx","fy","cx","cy","w2c","file_path"}]}`.
public struct OpenCVCamerasFile: Codable, Equatable, Sendable {
    public struct Frame: Codable, Equatable, Sendable {
        public var w: Int, h: Int
        public var fx: Double, fy: Double, cx: Double, cy: Double
        /// 4×4 world→camera, row-major nested arrays.
        public var w2c: [[Double]]
        public var file_path: String

        public init(camera: PinholeCamera, filePath: String) {
            w = camera.width; h = camera.height
            fx = Double(camera.fx); fy = Double(camera.fy); cx = Double(camera.cx); cy = Double(camera.cy)
            w2c = camera.w2c
            file_path = filePath
        }

        /// The camera this frame describes; throws if `w2c` is not a 4×4 matrix.
        public func camera() throws -> PinholeCamera {
            guard w2c.count == 4, w2c.allSatisfy({ $0.count == 4 }) else {
                throw SynthesisError.invalidCameras("frame \(file_path): w2c must be 4×4, got \(w2c.map(\.count))")
            }
            let row = { (i: Int) in Vec3(Float(w2c[i][0]), Float(w2c[i][1]), Float(w2c[i][2])) }
            return PinholeCamera(width: w, height: h, fx: Float(fx), fy: Float(fy), cx: Float(cx), cy: Float(cy),
                                 rotation: Mat3(rows: row(0), row(1), row(2)),
                                 translation: Vec3(Float(w2c[0][3]), Float(w2c[1][3]), Float(w2c[2][3])))
        }
    }

    public var id: String
    public var frames: [Frame]

    public init(id: String, frames: [Frame]) { self.id = id; self.frames = frames }

    /// Frames for `cameras` with files `images/cam_000.png`, `images/cam_001.png`, …
    public init(id: String, cameras: [PinholeCamera]) {
        self.id = id
        frames = cameras.enumerated().map { Frame(camera: $1, filePath: OpenCVCamerasFile.imagePath(view: $0)) }
    }

    public static func imagePath(view: Int) -> String { String(format: "images/cam_%03d.png", view) }

    public func encoded() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }

    public static func read(_ url: URL) throws -> OpenCVCamerasFile {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SynthesisError.invalidCameras("cannot read \(url.path): \(error.localizedDescription)")
        }
        do { return try JSONDecoder().decode(OpenCVCamerasFile.self, from: data) } catch {
            throw SynthesisError.invalidCameras("\(url.path): \(error)")
        }
    }
}

public enum SynthesisError: Error, CustomStringConvertible {
    case invalidCameras(String)
    case invalidArgument(String)
    case io(String)

    public var description: String {
        switch self {
        case .invalidCameras(let s): return "invalid cameras: \(s)"
        case .invalidArgument(let s): return "invalid argument: \(s)"
        case .io(let s): return "I/O error: \(s)"
        }
    }
}
