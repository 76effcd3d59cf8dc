import Foundation

/// One view's OpenCV camera as stored in FaceLift's `opencv_cameras.json`: x right, y down,
/// z forward; intrinsics in pixels with pixel (u, v) centred at (u + 0.5, v + 0.5); `w2c` the
/// 4×4 world-to-camera matrix, row-major. Plain values: geometry lives in Splatting.
public struct CameraFrame: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var fx: Float, fy: Float, cx: Float, cy: Float
    /// 16 values, row-major.
    public var w2c: [Float]
    /// Image path relative to the subject folder (e.g. `images/cam_000.png`).
    public var filePath: String

    public init(width: Int, height: Int, fx: Float, fy: Float, cx: Float, cy: Float, w2c: [Float], filePath: String) {
        self.width = width; self.height = height
        self.fx = fx; self.fy = fy; self.cx = cx; self.cy = cy
        self.w2c = w2c
        self.filePath = filePath
    }

    public var intrinsics: [Float] { [fx, fy, cx, cy] }

    /// The same camera for the image resized to `newWidth`×`newHeight`. Exact for a pinhole
    /// camera under the pixel-centre convention (a non-square resize gives fx ≠ fy).
    public func resized(width newWidth: Int, height newHeight: Int) -> CameraFrame {
        let sx = Float(newWidth) / Float(width), sy = Float(newHeight) / Float(height)
        return CameraFrame(width: newWidth, height: newHeight, fx: fx * sx, fy: fy * sy, cx: cx * sx, cy: cy * sy,
                           w2c: w2c, filePath: filePath)
    }

    /// Why this camera is implausible, or nil: non-finite values, non-positive focal length,
    /// principal point outside the image, a w2c that is not a rigid transform.
    public static func sanityProblem(intrinsics k: ArraySlice<Float>, w2c m: ArraySlice<Float>, width: Int, height: Int) -> String? {
        let k = Array(k), m = Array(m)
        guard k.count == 4, m.count == 16 else { return "camera arrays have the wrong size" }
        guard (k + m).allSatisfy(\.isFinite) else { return "camera has non-finite values" }
        guard k[0] > 0, k[1] > 0 else { return "focal length fx=\(k[0]) fy=\(k[1]) is not positive" }
        guard k[2] > 0, k[2] < Float(width), k[3] > 0, k[3] < Float(height) else {
            return "principal point (\(k[2]), \(k[3])) lies outside the \(width)×\(height) image"
        }
        guard m[12] == 0, m[13] == 0, m[14] == 0, m[15] == 1 else { return "w2c bottom row is not [0 0 0 1]" }
        for i in 0..<3 {
            for j in 0..<3 {
                var dot: Float = 0
                for r in 0..<3 { dot += m[r * 4 + i] * m[r * 4 + j] }
                if abs(dot - (i == j ? 1 : 0)) > 1e-3 { return "w2c rotation is not orthonormal" }
            }
        }
        var det: Float = 0
        det += m[0] * (m[5] * m[10] - m[6] * m[9])
        det -= m[1] * (m[4] * m[10] - m[6] * m[8])
        det += m[2] * (m[4] * m[9] - m[5] * m[8])
        if det < 0 { return "w2c rotation is a reflection (det < 0)" }
        return nil
    }

    /// Camera centre in world coordinates, −Rᵀt.
    public var centre: SIMD3<Float> { CameraFrame.centre(w2c: w2c[...]) }

    public static func centre(w2c m: ArraySlice<Float>) -> SIMD3<Float> {
        let b = m.startIndex
        let t = SIMD3(m[b + 3], m[b + 7], m[b + 11])
        return -SIMD3(m[b] * t.x + m[b + 4] * t.y + m[b + 8] * t.z,
                      m[b + 1] * t.x + m[b + 5] * t.y + m[b + 9] * t.z,
                      m[b + 2] * t.x + m[b + 6] * t.y + m[b + 10] * t.z)
    }
}

/// The contents of an `opencv_cameras.json`: `{"id": …, "frames": [{"w","h","fx","fy","cx","cy","w2c","file_path"}]}`.
public struct CameraFile: Sendable {
    public var id: String?
    public var frames: [CameraFrame]

    public init(id: String?, frames: [CameraFrame]) {
        self.id = id
        self.frames = frames
    }

    /// Parses the file. Missing or malformed keys throw naming the file, the frame and the key.
    /// `w2c` may be nested 4×4 or flat 16; `file_path` defaults to `images/cam_XXX.png`.
    public static func read(_ path: String) throws -> CameraFile {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw DataError(path, "cannot read camera file")
        }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw DataError(path, "not a JSON object")
        }
        guard let frames = root["frames"] as? [[String: Any]] else { throw DataError(path, "missing key 'frames' (a list of cameras)") }
        guard !frames.isEmpty else { throw DataError(path, "'frames' is empty") }
        var parsed = [CameraFrame]()
        for (i, f) in frames.enumerated() {
            func number(_ key: String) throws -> Double {
                guard let v = f[key] else { throw DataError(path, "frame \(i): missing key '\(key)'") }
                guard let n = (v as? NSNumber)?.doubleValue, n.isFinite else { throw DataError(path, "frame \(i): key '\(key)' is not a number") }
                return n
            }
            guard let raw = f["w2c"] else { throw DataError(path, "frame \(i): missing key 'w2c'") }
            var w2c: [Float]
            if let rows = raw as? [[NSNumber]] { w2c = rows.flatMap { $0.map(\.floatValue) } }
            else if let flat = raw as? [NSNumber] { w2c = flat.map(\.floatValue) }
            else { throw DataError(path, "frame \(i): key 'w2c' is not a 4×4 matrix") }
            if w2c.count == 12 { w2c += [0, 0, 0, 1] } // 3×4 [R|t]
            guard w2c.count == 16 else { throw DataError(path, "frame \(i): key 'w2c' has \(w2c.count) values, expected 16") }
            let w = try number("w"), h = try number("h")
            guard w >= 1, h >= 1 else { throw DataError(path, "frame \(i): image size \(w)×\(h) is not positive") }
            let file = f["file_path"] as? String ?? String(format: "images/cam_%03d.png", i)
            parsed.append(CameraFrame(width: Int(w), height: Int(h), fx: Float(try number("fx")), fy: Float(try number("fy")),
                                      cx: Float(try number("cx")), cy: Float(try number("cy")), w2c: w2c, filePath: file))
        }
        let id = (root["id"] as? String) ?? (root["id"] as? NSNumber)?.stringValue
        return CameraFile(id: id, frames: parsed)
    }

    /// Writes the file in FaceLift's layout (w2c nested 4×4), atomically.
    public func write(_ path: String) throws {
        var root: [String: Any] = ["frames": frames.map { f -> [String: Any] in
            ["w": f.width, "h": f.height, "fx": f.fx, "fy": f.fy, "cx": f.cx, "cy": f.cy,
             "w2c": (0..<4).map { r in (0..<4).map { f.w2c[r * 4 + $0] } }, "file_path": f.filePath]
        }]
        if let id { root["id"] = id }
        let data = try JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(data, to: path)
    }
}
