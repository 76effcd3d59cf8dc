import Foundation
import Tensors

/// One view's OpenCV camera as stored in FaceLift's `opencv_cameras.json`: x right, y down,
/// z forward; intrinsics in pixels with pixel (u, v) centred at (u + 0.5, v + 0.5); `w2c` the
/// 4×4 world-to-camera matrix, row-major. Values are Doubles, as in the file, so a camera written
/// and read back is bit-identical; shards store them as Float32. Plain values: `CameraFrames.swift`
/// converts them from and to the geometry's `Camera` (Splatting).
public struct CameraFrame: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var fx: Double, fy: Double, cx: Double, cy: Double
    /// 16 values, row-major.
    public var w2c: [Double]
    /// Image path relative to the subject folder (e.g. `images/cam_000.png`).
    public var filePath: String

    public init(width: Int, height: Int, fx: Double, fy: Double, cx: Double, cy: Double, w2c: [Double], filePath: String) {
        check(w2c.count == 16, "w2c needs 16 values, got \(w2c.count)")
        self.width = width; self.height = height
        self.fx = fx; self.fy = fy; self.cx = cx; self.cy = cy
        self.w2c = w2c
        self.filePath = filePath
    }

    /// `images/cam_000.png`, `images/cam_001.png`, …: FaceLift's image names.
    public static func imagePath(view: Int) -> String { String(format: "images/cam_%03d.png", view) }

    /// fx, fy, cx, cy.
    public var intrinsics: [Double] { [fx, fy, cx, cy] }

    /// The same camera for the image resized to `newWidth`×`newHeight`. Exact for a pinhole
    /// camera under the pixel-centre convention (a non-square resize gives fx ≠ fy).
    public func resized(width newWidth: Int, height newHeight: Int) -> CameraFrame {
        let sx = Double(newWidth) / Double(width), sy = Double(newHeight) / Double(height)
        return CameraFrame(width: newWidth, height: newHeight, fx: fx * sx, fy: fy * sy, cx: cx * sx, cy: cy * sy,
                           w2c: w2c, filePath: filePath)
    }

    /// Camera centre in world coordinates, −Rᵀt.
    public var centre: SIMD3<Double> {
        let m = w2c, t = SIMD3(m[3], m[7], m[11])
        return -SIMD3(m[0] * t.x + m[4] * t.y + m[8] * t.z,
                      m[1] * t.x + m[5] * t.y + m[9] * t.z,
                      m[2] * t.x + m[6] * t.y + m[10] * t.z)
    }

    // Shards hold cameras as Float32 arrays (4 intrinsics, 16 w2c values per view): these check
    // and read them in place.

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

    /// Camera centre, −Rᵀt, of a Float32 row-major w2c.
    public static func centre(w2c m: ArraySlice<Float>) -> SIMD3<Float> {
        let b = m.startIndex
        let t = SIMD3(m[b + 3], m[b + 7], m[b + 11])
        return -SIMD3(m[b] * t.x + m[b + 4] * t.y + m[b + 8] * t.z,
                      m[b + 1] * t.x + m[b + 5] * t.y + m[b + 9] * t.z,
                      m[b + 2] * t.x + m[b + 6] * t.y + m[b + 10] * t.z)
    }
}

/// The contents of an `opencv_cameras.json`: `{"id": …, "frames": [{"w","h","fx","fy","cx","cy","w2c","file_path"}]}`.
public struct CameraFile: Sendable, Equatable {
    public var id: String?
    public var frames: [CameraFrame]

    public init(id: String?, frames: [CameraFrame]) {
        self.id = id
        self.frames = frames
    }

    /// Reads and parses `path`; errors name the file, the frame and the key.
    public static func read(_ path: String) throws -> CameraFile {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw DataError(path, "cannot read camera file (\(error.localizedDescription))")
        }
        return try decode(data, source: path)
    }

    /// Parses a camera file held in memory; `source` names it in errors. Accepts FaceLift's
    /// files: `id` a string, a number or absent; `w2c` nested 4×4, flat 16, or 3×4 [R|t];
    /// `file_path` absent meaning `images/cam_XXX.png`.
    public static func decode(_ data: Data, source: String = "camera file") throws -> CameraFile {
        guard case .object(let root)? = try? JSONDecoder().decode(JSONValue.self, from: data) else {
            throw DataError(source, "not a JSON object")
        }
        guard case .array(let frames)? = root["frames"] else { throw DataError(source, "missing key 'frames' (a list of cameras)") }
        guard !frames.isEmpty else { throw DataError(source, "'frames' is empty") }
        var parsed = [CameraFrame]()
        for (i, value) in frames.enumerated() {
            guard case .object(let f) = value else { throw DataError(source, "frame \(i) is not a JSON object") }
            func number(_ key: String) throws -> Double {
                guard let v = f[key] else { throw DataError(source, "frame \(i): missing key '\(key)'") }
                guard case .number(let n) = v, n.isFinite else { throw DataError(source, "frame \(i): key '\(key)' is not a finite number") }
                return n
            }
            func size(_ key: String) throws -> Int {
                let v = try number(key)
                guard v >= 1, v == v.rounded(), v <= 1_048_576 else {
                    throw DataError(source, "frame \(i): key '\(key)' = \(v) is not a positive image size")
                }
                return Int(v)
            }
            let width = try size("w"), height = try size("h")
            let fx = try number("fx"), fy = try number("fy"), cx = try number("cx"), cy = try number("cy")
            guard let raw = f["w2c"] else { throw DataError(source, "frame \(i): missing key 'w2c'") }
            // Nested rows or one flat list, numbers only.
            var w2c = [Double]()
            var wellFormed = false
            if case .array(let items) = raw {
                wellFormed = true
                for item in items {
                    switch item {
                    case .number(let n): w2c.append(n)
                    case .array(let row):
                        for x in row { if case .number(let n) = x { w2c.append(n) } else { wellFormed = false } }
                    default: wellFormed = false
                    }
                }
            }
            guard wellFormed else { throw DataError(source, "frame \(i): key 'w2c' is not a 4×4 matrix of numbers") }
            if w2c.count == 12 { w2c += [0, 0, 0, 1] }  // 3×4 [R|t]
            guard w2c.count == 16 else { throw DataError(source, "frame \(i): key 'w2c' has \(w2c.count) values, expected 4×4") }
            guard w2c.allSatisfy(\.isFinite) else { throw DataError(source, "frame \(i): key 'w2c' has non-finite values") }
            let filePath: String
            switch f["file_path"] {
            case nil: filePath = CameraFrame.imagePath(view: i)
            case .string(let s)?: filePath = s
            default: throw DataError(source, "frame \(i): key 'file_path' is not a string")
            }
            parsed.append(CameraFrame(width: width, height: height, fx: fx, fy: fy, cx: cx, cy: cy, w2c: w2c, filePath: filePath))
        }
        let id: String?
        switch root["id"] {
        case .string(let s)?: id = s
        case .number(let n)?: id = n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : "\(n)"
        default: id = nil
        }
        return CameraFile(id: id, frames: parsed)
    }

    /// The file's text: FaceLift's layout, one frame per line, `w2c` nested 4×4. Numbers are
    /// written in Swift's shortest round-trip form, so reading gives back the same Doubles.
    public func encoded() throws -> Data {
        var text = "{\n"
        if let id { text += "  \"id\": \(CameraFile.quoted(id)),\n" }
        text += "  \"frames\": [\n"
        for (i, f) in frames.enumerated() {
            guard (f.intrinsics + f.w2c).allSatisfy(\.isFinite) else {
                throw DataError(id ?? "camera file", "frame \(i) has non-finite camera values")
            }
            // −0 (from rotations of exact axes) is written as 0: equal values, tidier files.
            func n(_ x: Double) -> String { x == 0 ? "0.0" : "\(x)" }
            let rows = (0..<4).map { r in "[" + (0..<4).map { n(f.w2c[r * 4 + $0]) }.joined(separator: ", ") + "]" }
            text += "    {\"w\": \(f.width), \"h\": \(f.height), \"fx\": \(n(f.fx)), \"fy\": \(n(f.fy)), \"cx\": \(n(f.cx)), \"cy\": \(n(f.cy)), "
                + "\"w2c\": [\(rows.joined(separator: ", "))], \"file_path\": \(CameraFile.quoted(f.filePath))}"
                + (i + 1 < frames.count ? ",\n" : "\n")
        }
        text += "  ]\n}\n"
        return Data(text.utf8)
    }

    /// Writes the file atomically.
    public func write(_ path: String) throws {
        let data: Data
        do { data = try encoded() } catch let e as DataError { throw DataError(path, e.message) }
        try AtomicFile.write(data, to: path)
    }

    /// A JSON string literal, escaped by Foundation's encoder (slashes left as they are).
    static func quoted(_ s: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        return String(decoding: try! encoder.encode(s), as: UTF8.self)  // a String always encodes
    }
}

/// A parsed JSON value. Read through `JSONDecoder`, whose numbers are exact (Foundation's
/// `JSONSerialization` on Linux may round a Double's last digit, which would break round trips).
enum JSONValue: Decodable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }
}
