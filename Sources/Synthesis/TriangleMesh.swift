import Foundation
// The surface every generator produces and the rasterizer consumes: indexed triangles with
// per-vertex albedo, baked occlusion and pattern coordinates, and a material per triangle.
// Parts are appended one by one; each part is a closed surface wound counter-clockwise seen
// from outside, so the renderer can cull back faces and the saved mesh is watertight per part.

public struct TriangleMesh: Sendable {
    public var positions: [Vec3] = []
    public var normals: [Vec3] = []
    /// Linear-light albedo.
    public var albedo: [Vec3] = []
    /// Baked ambient visibility in [0, 1] (cavities darker).
    public var occlusion: [Float] = []
    /// Coordinates the material's pattern is evaluated at (object space of the part).
    public var patternCoordinates: [Vec3] = []
    public var triangles: [SIMD3<Int32>] = []
    /// Index into the scene's material table, one per triangle.
    public var triangleMaterial: [UInt16] = []

    public init() {}

    public var vertexCount: Int { positions.count }
    public var triangleCount: Int { triangles.count }

    /// Appends `part` (its own vertices, no sharing) with every triangle using `material`.
    public mutating func append(_ part: TriangleMesh, material: UInt16? = nil) {
        let offset = Int32(positions.count)
        positions += part.positions
        normals += part.normals
        albedo += part.albedo
        occlusion += part.occlusion
        patternCoordinates += part.patternCoordinates
        triangles += part.triangles.map { $0 &+ SIMD3(repeating: offset) }
        if let m = material {
            triangleMaterial += [UInt16](repeating: m, count: part.triangles.count)
        } else {
            triangleMaterial += part.triangleMaterial
        }
    }

    /// Applies a rigid transform to positions (pattern coordinates stay attached to the part).
    public mutating func transform(_ t: Rigid) {
        for i in positions.indices { positions[i] = t.apply(positions[i]) }
        for i in normals.indices { normals[i] = t.rotation.apply(normals[i]) }
    }

    /// Smooth vertex normals: area-weighted sum of the incident face normals.
    public mutating func computeNormals() {
        var n = [Vec3](repeating: .zero, count: positions.count)
        positions.withUnsafeBufferPointer { p in
            n.withUnsafeMutableBufferPointer { n in
                for t in triangles {
                    let a = p[Int(t.x)], b = p[Int(t.y)], c = p[Int(t.z)]
                    let f = cross(b - a, c - a)
                    n[Int(t.x)] += f; n[Int(t.y)] += f; n[Int(t.z)] += f
                }
                for i in n.indices { n[i] = normalize(n[i]) }
            }
        }
        normals = n
    }

    /// Sets every vertex's albedo (and full visibility) — for single-coloured parts.
    public mutating func paint(_ colour: Vec3) {
        albedo = [Vec3](repeating: colour, count: positions.count)
        if occlusion.count != positions.count { occlusion = [Float](repeating: 1, count: positions.count) }
    }

    /// Signed enclosed volume (positive when the winding is outward); the sum over closed parts.
    public var signedVolume: Float {
        var v: Double = 0
        for t in triangles {
            let a = positions[Int(t.x)], b = positions[Int(t.y)], c = positions[Int(t.z)]
            v += Double(dot(a, cross(b, c)))
        }
        return Float(v / 6)
    }

    /// Axis-aligned bounds of the vertices.
    public var bounds: (min: Vec3, max: Vec3) {
        var lo = Vec3(repeating: .infinity), hi = Vec3(repeating: -.infinity)
        for p in positions { lo = pointwiseMin(lo, p); hi = pointwiseMax(hi, p) }
        return (lo, hi)
    }
}
