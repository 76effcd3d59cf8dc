import Foundation

/// One frame of FaceLift's `opencv_cameras.json`: a camera and the image it belongs to.
public struct CameraFrame: Equatable, Sendable {
    public var camera: Camera
    public var filePath: String
    public init(camera: Camera, filePath: String) { self.camera = camera; self.filePath = filePath }
}

public struct CameraFileError: Error, CustomStringConvertible {
    public var description: String
}

/// FaceLift's camera file: `{"id", "frames": [{"w","h","fx","fy","cx","cy","w2c","file_path"}]}`,
/// `w2c` a 4×4 nested array in OpenCV convention.
public struct CameraFile: Equatable, Sendable {
    public var id: String
    public var frames: [CameraFrame]

    public init(id: String, frames: [CameraFrame]) { self.id = id; self.frames = frames }

    /// Frames named `images/cam_000.png`, `images/cam_001.png`, … after `cameras`.
    public init(id: String, cameras: [Camera]) {
        self.init(id: id, frames: cameras.enumerated().map {
            CameraFrame(camera: $1, filePath: String(format: "images/cam_%03d.png", $0))
        })
    }

    public var cameras: [Camera] { frames.map(\.camera) }

    public static func read(_ url: URL) throws -> CameraFile {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw CameraFileError(description: "\(url.path): cannot read camera file (\(error.localizedDescription))")
        }
        return try decode(data, source: url.path)
    }

    public static func decode(_ data: Data, source: String = "camera file") throws -> CameraFile {
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw CameraFileError(description: "\(source): not a JSON object")
        }
        let id: String
        switch root["id"] {
        case let s as String: id = s
        case let n as NSNumber: id = n.stringValue
        default: id = ""
        }
        guard let frames = root["frames"] as? [[String: Any]] else {
            throw CameraFileError(description: "\(source): missing \"frames\" array")
        }
        return CameraFile(id: id, frames: try frames.enumerated().map { i, f in
            func number(_ key: String) throws -> Double {
                guard let n = f[key] as? NSNumber else {
                    throw CameraFileError(description: "\(source): frames[\(i)] missing number \"\(key)\"")
                }
                return n.doubleValue
            }
            let w = try number("w"), h = try number("h")
            guard w >= 1, h >= 1, w == w.rounded(), h == h.rounded() else {
                throw CameraFileError(description: "\(source): frames[\(i)] has invalid size \(w)×\(h)")
            }
            let fx = try number("fx"), fy = try number("fy"), cx = try number("cx"), cy = try number("cy")
            guard let rows = f["w2c"] as? [[NSNumber]], rows.count == 4, rows.allSatisfy({ $0.count == 4 }) else {
                throw CameraFileError(description: "\(source): frames[\(i)] \"w2c\" is not a 4×4 array")
            }
            let camera = Camera(width: Int(w), height: Int(h), fx: fx, fy: fy, cx: cx, cy: cy,
                                worldToCamera: Matrix4(rowMajor: rows.flatMap { $0.map(\.doubleValue) }))
            return CameraFrame(camera: camera, filePath: f["file_path"] as? String ?? String(format: "cam_%03d.png", i))
        })
    }

    public func encoded() throws -> Data {
        let frames: [[String: Any]] = self.frames.map { f in
            let c = f.camera
            return ["w": c.width, "h": c.height, "fx": c.fx, "fy": c.fy, "cx": c.cx, "cy": c.cy,
                    "w2c": (0..<4).map { r in (0..<4).map { c.worldToCamera[r, $0] } }, "file_path": f.filePath]
        }
        return try JSONSerialization.data(withJSONObject: ["id": id, "frames": frames] as [String: Any],
                                          options: [.prettyPrinted, .sortedKeys])
    }

    public func write(_ url: URL) throws {
        try encoded().write(to: url, options: .atomic)
    }
}
