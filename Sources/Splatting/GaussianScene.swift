import Foundation
import Tensors

/// One scene of Gaussians with every value before activation, as the rasterizer takes them and
/// the 3DGS PLY stores them.
public struct GaussianScene {
    /// [N, 3]
    public var means: Tensor
    /// [N, 4] (w, x, y, z), not necessarily unit.
    public var quaternions: Tensor
    /// [N, 3]
    public var logScales: Tensor
    /// [N]
    public var opacityLogits: Tensor
    /// [N, 3] degree-0 spherical harmonics.
    public var shDC: Tensor
    /// [N, 45] higher-degree SH, channel-major as in 3DGS files (kept for round trips; the
    /// rasterizer renders degree 0). Nil means zeros.
    public var shRest: Tensor?

    public var count: Int { means.shape[0] }

    public init(means: Tensor, quaternions: Tensor, logScales: Tensor, opacityLogits: Tensor, shDC: Tensor, shRest: Tensor? = nil) {
        let n = means.shape[0]
        check(means.shape == [n, 3] && quaternions.shape == [n, 4] && logScales.shape == [n, 3]
              && opacityLogits.count == n && shDC.shape == [n, 3] && (shRest == nil || shRest!.shape == [n, 45]),
              "GaussianScene shapes disagree")
        self.means = means; self.quaternions = quaternions; self.logScales = logScales
        self.opacityLogits = opacityLogits.viewing(as: [n]); self.shDC = shDC; self.shRest = shRest
    }

    /// Renders into `cameras` (no gradients): [V, 3, H, W] colour on `background`.
    public func render(_ cameras: [Camera], background: SIMD3<Float> = [1, 1, 1]) -> Tensor {
        let n = count
        let out = withoutGradients {
            GaussianRasterizer.render(means: means.viewing(as: [1, n, 3]), quaternions: quaternions.viewing(as: [1, n, 4]),
                                      logScales: logScales.viewing(as: [1, n, 3]), opacityLogits: opacityLogits.viewing(as: [1, n]),
                                      shDC: shDC.viewing(as: [1, n, 3]), cameras: [cameras], background: background).rgb
        }
        return out.viewing(as: Array(out.shape.dropFirst()))
    }
}

public struct PLYError: Error, CustomStringConvertible {
    public var description: String
}

/// The 3DGS PLY: binary little-endian float vertices `x y z nx ny nz f_dc_0..2 f_rest_0..44
/// opacity scale_0..2 rot_0..3` (62 floats), values before activation.
public enum GaussianPLY {
    static let restCount = 45
    static var propertyNames: [String] {
        ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"] + (0..<restCount).map { "f_rest_\($0)" }
            + ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    }

    public static func write(_ scene: GaussianScene, to url: URL) throws {
        let n = scene.count
        var header = "ply\nformat binary_little_endian 1.0\nelement vertex \(n)\n"
        for name in propertyNames { header += "property float \(name)\n" }
        header += "end_header\n"
        var data = Data(header.utf8)
        let stride = propertyNames.count
        var body = [Float](repeating: 0, count: n * stride)
        for i in 0..<n {
            let row = i * stride
            for k in 0..<3 { body[row + k] = scene.means[flat: 3 * i + k] }
            for k in 0..<3 { body[row + 6 + k] = scene.shDC[flat: 3 * i + k] }
            if let rest = scene.shRest { for k in 0..<restCount { body[row + 9 + k] = rest[flat: restCount * i + k] } }
            body[row + 54] = scene.opacityLogits[flat: i]
            for k in 0..<3 { body[row + 55 + k] = scene.logScales[flat: 3 * i + k] }
            for k in 0..<4 { body[row + 58 + k] = scene.quaternions[flat: 4 * i + k] }
        }
        body.withUnsafeBufferPointer { p in
            // Little-endian hosts only (x86-64, arm64): the floats are written as they lie in memory.
            data.append(UnsafeBufferPointer(start: UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: UInt8.self),
                                            count: p.count * 4))
        }
        do { try data.write(to: url, options: .atomic) } catch {
            throw PLYError(description: "\(url.path): cannot write PLY (\(error.localizedDescription))")
        }
    }

    public static func read(_ url: URL) throws -> GaussianScene {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw PLYError(description: "\(url.path): cannot read PLY (\(error.localizedDescription))")
        }
        return try decode(data, source: url.path)
    }

    public static func decode(_ data: Data, source: String = "PLY") throws -> GaussianScene {
        let marker = Data("end_header\n".utf8)
        guard data.starts(with: Data("ply\n".utf8)) || data.starts(with: Data("ply\r\n".utf8)) else {
            throw PLYError(description: "\(source): not a PLY file (missing 'ply' magic)")
        }
        guard let end = data.range(of: marker, in: 0..<min(data.count, 1 << 20)) else {
            throw PLYError(description: "\(source): PLY header has no end_header")
        }
        guard let header = String(data: data[0..<end.lowerBound], encoding: .ascii) else {
            throw PLYError(description: "\(source): PLY header is not ASCII")
        }
        var vertexCount: Int?
        var properties: [String] = []
        var inVertex = false
        for raw in header.split(separator: "\n").dropFirst() {
            let words = raw.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").map(String.init)
            guard let first = words.first else { continue }
            switch first {
            case "format":
                guard words.count >= 2, words[1] == "binary_little_endian" else {
                    throw PLYError(description: "\(source): unsupported PLY format '\(words.dropFirst().joined(separator: " "))' (need binary_little_endian)")
                }
            case "element":
                guard words.count == 3, let c = Int(words[2]), c >= 0 else {
                    throw PLYError(description: "\(source): malformed element line '\(raw)'")
                }
                if words[1] == "vertex" {
                    guard vertexCount == nil else { throw PLYError(description: "\(source): two vertex elements") }
                    vertexCount = c; inVertex = true
                } else {
                    // Elements after the vertices (e.g. faces) are ignored; before them they would shift the data.
                    if vertexCount == nil && c > 0 {
                        throw PLYError(description: "\(source): element '\(words[1])' before the vertices is not supported")
                    }
                    inVertex = false
                }
            case "property":
                guard inVertex else { continue }
                guard words.count == 3, words[1] == "float" || words[1] == "float32" else {
                    throw PLYError(description: "\(source): vertex property '\(raw)' is not a float (3DGS PLY stores floats)")
                }
                properties.append(words[2])
            case "comment", "obj_info": continue
            default:
                throw PLYError(description: "\(source): unexpected header line '\(raw)'")
            }
        }
        guard let n = vertexCount else { throw PLYError(description: "\(source): no vertex element") }
        var column: [String: Int] = [:]
        for (i, p) in properties.enumerated() { column[p] = i }
        func columns(_ names: [String]) throws -> [Int] {
            try names.map {
                guard let c = column[$0] else { throw PLYError(description: "\(source): missing vertex property '\($0)'") }
                return c
            }
        }
        let meanCols = try columns(["x", "y", "z"]), dcCols = try columns(["f_dc_0", "f_dc_1", "f_dc_2"])
        let opacityCol = try columns(["opacity"])[0], scaleCols = try columns(["scale_0", "scale_1", "scale_2"])
        let rotCols = try columns(["rot_0", "rot_1", "rot_2", "rot_3"])
        let restCols = (0..<restCount).map { column["f_rest_\($0)"] }
        let stride = properties.count
        let bodyStart = end.upperBound
        let needed = n * stride * 4
        guard data.count - bodyStart >= needed else {
            throw PLYError(description: "\(source): file is short: \(n) vertices of \(stride) floats need \(needed) bytes, found \(data.count - bodyStart)")
        }
        let means = Tensor(uninitializedShape: [n, 3]), quats = Tensor(uninitializedShape: [n, 4])
        let scales = Tensor(uninitializedShape: [n, 3]), opacity = Tensor(uninitializedShape: [n])
        let dc = Tensor(uninitializedShape: [n, 3])
        let hasRest = restCols.contains { $0 != nil }
        let rest = Tensor(zeros: [n, restCount])
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let base = raw.baseAddress! + bodyStart
            @inline(__always) func value(_ i: Int, _ c: Int) -> Float {
                Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: (i * stride + c) * 4, as: UInt32.self)))
            }
            for i in 0..<n {
                for k in 0..<3 {
                    means.storage.base[3 * i + k] = value(i, meanCols[k])
                    dc.storage.base[3 * i + k] = value(i, dcCols[k])
                    scales.storage.base[3 * i + k] = value(i, scaleCols[k])
                }
                for k in 0..<4 { quats.storage.base[4 * i + k] = value(i, rotCols[k]) }
                opacity.storage.base[i] = value(i, opacityCol)
                if hasRest { for (k, c) in restCols.enumerated() { if let c { rest.storage.base[restCount * i + k] = value(i, c) } } }
            }
        }
        // All-zero higher degrees (what degree-0 writers store) read back as degree 0.
        let restUsed = hasRest && rest.withUnsafeBufferPointer { $0.contains { $0 != 0 } }
        return GaussianScene(means: means, quaternions: quats, logScales: scales, opacityLogits: opacity, shDC: dc,
                             shRest: restUsed ? rest : nil)
    }
}
