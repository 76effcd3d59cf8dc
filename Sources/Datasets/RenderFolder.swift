import Foundation
import Tensors

/// One subject in a render folder (FaceLift's layout, which Relief's synthesis also writes):
/// `<subject>/opencv_cameras.json`, `<subject>/images/cam_XXX.png`, optional `<subject>/meta.json`.
public struct RenderSubject: Sendable {
    public var folder: String
    /// The folder name.
    public var id: String
    /// meta.json's "identity" if present, else the folder name: the unit of the train/val split.
    public var identity: String
    /// meta.json's "variant" if present (e.g. an expression or lighting variant), else "".
    public var variant: String
    /// meta.json verbatim ("{}" without one).
    public var metaJSON: String

    public var camerasPath: String { folder + "/opencv_cameras.json" }

    public init(folder: String, id: String, identity: String, variant: String = "", metaJSON: String = "{}") {
        self.folder = folder
        self.id = id
        self.identity = identity
        self.variant = variant
        self.metaJSON = metaJSON
    }
}

/// A subject decoded for storage: every view as 8-bit RGBA at one size, and its cameras.
public struct SubjectSample: Sendable {
    public var subject: RenderSubject
    public var views: Int
    public var height: Int
    public var width: Int
    /// [views, height, width, 4], RGBA.
    public var rgba: [UInt8]
    /// [views, 4]: fx, fy, cx, cy in pixels of the stored size.
    public var intrinsics: [Float]
    /// [views, 4, 4] row-major world-to-camera.
    public var w2c: [Float]
    /// Views whose image file is absent (left transparent black): only when `load` was told
    /// which views it may do without.
    public var missingViews: [Int] = []

    public init(subject: RenderSubject, views: Int, height: Int, width: Int, rgba: [UInt8], intrinsics: [Float], w2c: [Float]) {
        check(rgba.count == views * height * width * 4 && intrinsics.count == views * 4 && w2c.count == views * 16,
              "SubjectSample: array sizes do not match \(views) views of \(width)×\(height)")
        self.subject = subject
        self.views = views
        self.height = height
        self.width = width
        self.rgba = rgba
        self.intrinsics = intrinsics
        self.w2c = w2c
    }
}

public enum RenderFolder {
    /// Every subject under `roots`, sorted by id. A root that itself holds `opencv_cameras.json` is
    /// one subject; otherwise each subfolder with `opencv_cameras.json` or `images/` is one (a
    /// subfolder with images but no cameras is an error). Duplicate subject ids are an error.
    public static func subjects(in roots: [String]) throws -> [RenderSubject] {
        let fm = FileManager.default
        var found = [RenderSubject]()
        for root in roots {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw DataError(root, "input folder does not exist")
            }
            if fm.fileExists(atPath: root + "/opencv_cameras.json") {
                found.append(try subject(at: root))
                continue
            }
            let children = try fm.contentsOfDirectory(atPath: root).filter { !$0.hasPrefix(".") }.sorted()
            for child in children {
                let folder = root + "/" + child
                guard fm.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
                let hasCameras = fm.fileExists(atPath: folder + "/opencv_cameras.json")
                if !hasCameras {
                    if fm.fileExists(atPath: folder + "/images") { throw DataError(folder + "/opencv_cameras.json", "missing camera file") }
                    continue
                }
                found.append(try subject(at: folder))
            }
        }
        found.sort { $0.id < $1.id }
        for (a, b) in zip(found, found.dropFirst()) where a.id == b.id {
            throw DataError(b.folder, "subject id '\(b.id)' also used by \(a.folder)")
        }
        return found
    }

    static func subject(at folder: String) throws -> RenderSubject {
        let id = URL(fileURLWithPath: folder).lastPathComponent
        var identity = id, variant = "", meta = "{}"
        let metaPath = folder + "/meta.json"
        if FileManager.default.fileExists(atPath: metaPath) {
            guard let data = FileManager.default.contents(atPath: metaPath),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw DataError(metaPath, "not a JSON object")
            }
            if let v = object["identity"] { identity = (v as? String) ?? "\(v)" }
            if let v = object["variant"] { variant = (v as? String) ?? "\(v)" }
            meta = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return RenderSubject(folder: folder, id: id, identity: identity, variant: variant, metaJSON: meta)
    }

    /// Decodes every view of `subject` to RGBA8, resized to `size` (height, width) when given
    /// (antialiased; intrinsics scaled to match). Images must match their camera's w×h and one
    /// another; gray and RGB gain an opaque alpha; 16-bit is rounded to 8. A view in `optional`
    /// whose image file does not exist is listed in `missingViews` instead of failing the load.
    public static func load(_ subject: RenderSubject, size: (height: Int, width: Int)?, optional: Set<Int> = []) throws -> SubjectSample {
        let cameras = try CameraFile.read(subject.camerasPath)
        let first = cameras.frames[0]
        let (outH, outW) = size ?? (first.height, first.width)
        let plane = outH * outW * 4
        var rgba = [UInt8](repeating: 0, count: cameras.frames.count * plane)
        var intrinsics = [Float](), w2c = [Float](), missing = [Int]()
        for (v, frame) in cameras.frames.enumerated() {
            let path = subject.folder + "/" + frame.filePath
            guard frame.width == first.width, frame.height == first.height else {
                throw DataError(subject.camerasPath, "frame \(v) is \(frame.width)×\(frame.height) but frame 0 is \(first.width)×\(first.height)")
            }
            let scaled = frame.resized(width: outW, height: outH)
            intrinsics += scaled.intrinsics.map { Float($0) }
            w2c += scaled.w2c.map { Float($0) }
            if optional.contains(v) && !FileManager.default.fileExists(atPath: path) {
                missing.append(v)
                continue
            }
            let info = try PNG.info(path)
            guard info.width == frame.width, info.height == frame.height else {
                throw DataError(path, "image is \(info.width)×\(info.height) but \(subject.camerasPath) says \(frame.width)×\(frame.height)")
            }
            try rgba.withUnsafeMutableBufferPointer { out in
                let dst = out.baseAddress! + v * plane
                if info.width == outW && info.height == outH && info.bitDepth == 8 {
                    // Exact path: no resampling, so samples are copied bit for bit.
                    let raw = try PNG.read8(path)
                    expandToRGBA(raw.pixels, channels: raw.channels, into: dst)
                } else {
                    let image = try Image.readPNG(path).converted(toChannels: 4).resized(width: outW, height: outH)
                    let q = image.quantized8()
                    q.withUnsafeBufferPointer { dst.update(from: $0.baseAddress!, count: plane) }
                }
            }
        }
        var sample = SubjectSample(subject: subject, views: cameras.frames.count, height: outH, width: outW,
                                   rgba: rgba, intrinsics: intrinsics, w2c: w2c)
        sample.missingViews = missing
        return sample
    }

    /// Interleaved 8-bit gray / gray+alpha / RGB / RGBA → RGBA (opaque when there is no alpha).
    static func expandToRGBA(_ src: [UInt8], channels: Int, into dst: UnsafeMutablePointer<UInt8>) {
        let pixels = src.count / channels
        src.withUnsafeBufferPointer { s in
            switch channels {
            case 4: dst.update(from: s.baseAddress!, count: src.count)
            case 3: for p in 0..<pixels { dst[4 * p] = s[3 * p]; dst[4 * p + 1] = s[3 * p + 1]; dst[4 * p + 2] = s[3 * p + 2]; dst[4 * p + 3] = 255 }
            case 2: for p in 0..<pixels { let g = s[2 * p]; dst[4 * p] = g; dst[4 * p + 1] = g; dst[4 * p + 2] = g; dst[4 * p + 3] = s[2 * p + 1] }
            default: for p in 0..<pixels { let g = s[p]; dst[4 * p] = g; dst[4 * p + 1] = g; dst[4 * p + 2] = g; dst[4 * p + 3] = 255 }
            }
        }
    }
}
