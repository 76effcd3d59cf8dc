import Foundation
// Small 3-D vector and rotation helpers shared by the mesh builders, the cameras and the rasterizer.
// (Linux has no `simd` module, so dot/cross/normalize are written out here.)

public typealias Vec3 = SIMD3<Float>

@inline(__always) func dot(_ a: Vec3, _ b: Vec3) -> Float { (a * b).sum() }
@inline(__always) func cross(_ a: Vec3, _ b: Vec3) -> Vec3 {
    Vec3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
}
@inline(__always) func length(_ a: Vec3) -> Float { dot(a, a).squareRoot() }
@inline(__always) func normalize(_ a: Vec3) -> Vec3 {
    let l = length(a)
    return l > 1e-20 ? a / l : Vec3(0, 0, 1)
}
@inline(__always) func mix(_ a: Vec3, _ b: Vec3, _ t: Float) -> Vec3 { a + (b - a) * t }
@inline(__always) func mix(_ a: Float, _ b: Float, _ t: Float) -> Float { a + (b - a) * t }
@inline(__always) func clamp01(_ x: Float) -> Float { min(max(x, 0), 1) }
@inline(__always) func smoothstep(_ e0: Float, _ e1: Float, _ x: Float) -> Float {
    let t = clamp01((x - e0) / (e1 - e0))
    return t * t * (3 - 2 * t)
}
/// Unnormalised Gaussian bump: 1 at the centre.
@inline(__always) func bump(_ x: Float, _ sigma: Float) -> Float { expf(-0.5 * (x * x) / (sigma * sigma)) }
@inline(__always) func bump2(_ x: Float, _ sx: Float, _ y: Float, _ sy: Float) -> Float {
    expf(-0.5 * ((x * x) / (sx * sx) + (y * y) / (sy * sy)))
}
@inline(__always) func radians(_ degrees: Float) -> Float { degrees * .pi / 180 }

/// A 3×3 matrix stored by rows.
public struct Mat3: Equatable, Sendable {
    public var r0: Vec3, r1: Vec3, r2: Vec3
    public init(rows r0: Vec3, _ r1: Vec3, _ r2: Vec3) { self.r0 = r0; self.r1 = r1; self.r2 = r2 }
    public static let identity = Mat3(rows: Vec3(1, 0, 0), Vec3(0, 1, 0), Vec3(0, 0, 1))

    @inline(__always) public func apply(_ v: Vec3) -> Vec3 { Vec3(dot(r0, v), dot(r1, v), dot(r2, v)) }
    public var transposed: Mat3 {
        Mat3(rows: Vec3(r0.x, r1.x, r2.x), Vec3(r0.y, r1.y, r2.y), Vec3(r0.z, r1.z, r2.z))
    }
    public static func * (a: Mat3, b: Mat3) -> Mat3 {
        let bt = b.transposed
        return Mat3(rows: bt.apply(a.r0), bt.apply(a.r1), bt.apply(a.r2))
    }
    public static func rotationX(_ a: Float) -> Mat3 {
        let (c, s) = (cosf(a), sinf(a))
        return Mat3(rows: Vec3(1, 0, 0), Vec3(0, c, -s), Vec3(0, s, c))
    }
    public static func rotationY(_ a: Float) -> Mat3 {
        let (c, s) = (cosf(a), sinf(a))
        return Mat3(rows: Vec3(c, 0, s), Vec3(0, 1, 0), Vec3(-s, 0, c))
    }
    public static func rotationZ(_ a: Float) -> Mat3 {
        let (c, s) = (cosf(a), sinf(a))
        return Mat3(rows: Vec3(c, -s, 0), Vec3(s, c, 0), Vec3(0, 0, 1))
    }
    /// A rotation taking +z to `axis` (the other two axes are arbitrary but deterministic).
    public static func aligningZ(to axis: Vec3) -> Mat3 {
        let z = normalize(axis)
        let helper = abs(z.z) < 0.9 ? Vec3(0, 0, 1) : Vec3(1, 0, 0)
        let x = normalize(cross(helper, z)), y = cross(z, x)
        // Columns are x, y, z.
        return Mat3(rows: Vec3(x.x, y.x, z.x), Vec3(x.y, y.y, z.y), Vec3(x.z, y.z, z.z))
    }
}

/// A rigid transform p ↦ rotation·p + translation.
public struct Rigid: Sendable {
    public var rotation: Mat3
    public var translation: Vec3
    public init(rotation: Mat3 = .identity, translation: Vec3 = .zero) {
        self.rotation = rotation; self.translation = translation
    }
    @inline(__always) public func apply(_ p: Vec3) -> Vec3 { rotation.apply(p) + translation }
    /// Rotation about `pivot`.
    public static func rotating(_ r: Mat3, about pivot: Vec3) -> Rigid {
        Rigid(rotation: r, translation: pivot - r.apply(pivot))
    }
}
