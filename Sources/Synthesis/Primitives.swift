import Foundation
import Tensors
// Closed mesh builders. Every one is a "sphere grid" (poles + rings of a fixed segment count,
// wrapping in longitude) or a torus grid, deformed by a closure, so each is watertight by
// construction and wound outward whenever the closure keeps the surface's orientation.

/// Builds a closed surface with the topology of a sphere. `point(d)` maps the unit direction
/// d = (cos lat cos lon, cos lat sin lon, sin lat) to a position. `rings` latitude bands
/// (rings − 1 rows of vertices besides the poles), `segments` longitudes.
public func sphereGrid(rings: Int, segments: Int, _ point: (Vec3) -> Vec3) -> TriangleMesh {
    check(rings >= 2 && segments >= 3, "sphereGrid needs rings ≥ 2 and segments ≥ 3, got \(rings) and \(segments)")
    var m = TriangleMesh()
    m.positions.reserveCapacity((rings - 1) * segments + 2)
    m.patternCoordinates.reserveCapacity((rings - 1) * segments + 2)
    func add(_ d: Vec3) { m.positions.append(point(d)); m.patternCoordinates.append(d) }
    add(Vec3(0, 0, -1))
    for i in 1..<rings {
        let lat = -Float.pi / 2 + Float.pi * Float(i) / Float(rings)
        let (cl, sl) = (cosf(lat), sinf(lat))
        for j in 0..<segments {
            let lon = 2 * Float.pi * Float(j) / Float(segments)
            add(Vec3(cl * cosf(lon), cl * sinf(lon), sl))
        }
    }
    add(Vec3(0, 0, 1))
    let north = Int32(m.positions.count - 1)
    @inline(__always) func v(_ ring: Int, _ seg: Int) -> Int32 { Int32(1 + (ring - 1) * segments + seg % segments) }
    m.triangles.reserveCapacity(2 * segments * (rings - 1))
    for j in 0..<segments { m.triangles.append(SIMD3(0, v(1, j + 1), v(1, j))) }
    for i in 1..<(rings - 1) {
        for j in 0..<segments {
            let a = v(i, j), b = v(i, j + 1), c = v(i + 1, j), d = v(i + 1, j + 1)
            m.triangles.append(SIMD3(a, b, c)); m.triangles.append(SIMD3(b, d, c))
        }
    }
    for j in 0..<segments { m.triangles.append(SIMD3(v(rings - 1, j), v(rings - 1, j + 1), north)) }
    m.triangleMaterial = [UInt16](repeating: 0, count: m.triangles.count)
    m.occlusion = [Float](repeating: 1, count: m.positions.count)
    m.albedo = [Vec3](repeating: Vec3(repeating: 0.5), count: m.positions.count)
    return m
}

/// Signed power used by superquadrics: sign(x)·|x|^e.
@inline(__always) func signedPow(_ x: Float, _ e: Float) -> Float {
    x == 0 ? 0 : (x < 0 ? -powf(-x, e) : powf(x, e))
}

/// A superellipsoid centred at the origin: exponent 2 is an ellipsoid, larger horizontal /
/// vertical exponents square off the sides / the top and bottom (boxes, cylinders, pillows).
public func superellipsoid(radii: Vec3, horizontal: Float = 2, vertical: Float = 2,
                           rings: Int = 24, segments: Int = 32) -> TriangleMesh {
    sphereGrid(rings: rings, segments: segments) { d in
        let cl = (d.x * d.x + d.y * d.y).squareRoot()
        let e1 = 2 / vertical, e2 = 2 / horizontal
        let cosLat = powf(cl, e1), sinLat = signedPow(d.z, e1)
        let lonC = cl > 1e-7 ? d.x / cl : 1, lonS = cl > 1e-7 ? d.y / cl : 0
        return Vec3(radii.x * cosLat * signedPow(lonC, e2), radii.y * cosLat * signedPow(lonS, e2), radii.z * sinLat)
    }
}

/// A sphere of `radius` around `centre`.
public func sphere(centre: Vec3, radius: Float, rings: Int = 16, segments: Int = 24) -> TriangleMesh {
    sphereGrid(rings: rings, segments: segments) { centre + $0 * radius }
}

/// A rounded rod (capsule-like superellipsoid) from `a` to `b`.
public func rod(from a: Vec3, to b: Vec3, radius: Float, segments: Int = 10) -> TriangleMesh {
    let axis = b - a, half = length(axis) / 2
    var m = superellipsoid(radii: Vec3(radius, radius, half + radius * 0.5), horizontal: 2, vertical: 3,
                           rings: 8, segments: segments)
    m.transform(Rigid(rotation: .aligningZ(to: axis), translation: (a + b) / 2))
    return m
}

/// A torus in the xy-plane around the origin: `major` radius of the ring, `minor` of the tube.
public func torus(major: Float, minor: Float, majorSegments: Int = 32, minorSegments: Int = 12) -> TriangleMesh {
    var m = TriangleMesh()
    for i in 0..<majorSegments {
        let u = 2 * Float.pi * Float(i) / Float(majorSegments)
        let (cu, su) = (cosf(u), sinf(u))
        for j in 0..<minorSegments {
            let v = 2 * Float.pi * Float(j) / Float(minorSegments)
            let r = major + minor * cosf(v)
            m.positions.append(Vec3(r * cu, r * su, minor * sinf(v)))
            m.patternCoordinates.append(Vec3(r * cu, r * su, minor * sinf(v)) / major)
        }
    }
    @inline(__always) func idx(_ i: Int, _ j: Int) -> Int32 {
        Int32((i % majorSegments) * minorSegments + j % minorSegments)
    }
    for i in 0..<majorSegments {
        for j in 0..<minorSegments {
            let a = idx(i, j), b = idx(i + 1, j), c = idx(i, j + 1), d = idx(i + 1, j + 1)
            m.triangles.append(SIMD3(a, b, c)); m.triangles.append(SIMD3(b, d, c))
        }
    }
    m.triangleMaterial = [UInt16](repeating: 0, count: m.triangles.count)
    m.occlusion = [Float](repeating: 1, count: m.positions.count)
    m.albedo = [Vec3](repeating: Vec3(repeating: 0.5), count: m.positions.count)
    return m
}
