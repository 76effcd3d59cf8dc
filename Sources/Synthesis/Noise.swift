import Foundation
// Deterministic value noise: a hashed integer lattice with smooth interpolation, so procedural
// albedo, hair streaks and bumps depend only on the position and a seed (never on thread order).

@inline(__always) func latticeHash(_ x: Int32, _ y: Int32, _ z: Int32, _ seed: UInt32) -> Float {
    var h = UInt32(bitPattern: x) &* 0x8DA6_B343 ^ UInt32(bitPattern: y) &* 0xD816_3841
    h ^= UInt32(bitPattern: z) &* 0xCB1A_B31F ^ seed &* 0x165_667B1
    h ^= h >> 15; h &*= 0x2C1B_3C6D; h ^= h >> 12; h &*= 0x297A_2D39; h ^= h >> 15
    return Float(h >> 8) * 0x1p-24
}

/// Value noise in [0, 1), smooth (C1) in every coordinate.
@inline(__always) func valueNoise(_ p: Vec3, seed: UInt32) -> Float {
    let fx = p.x.rounded(.down), fy = p.y.rounded(.down), fz = p.z.rounded(.down)
    let ix = Int32(fx), iy = Int32(fy), iz = Int32(fz)
    var tx = p.x - fx, ty = p.y - fy, tz = p.z - fz
    tx = tx * tx * (3 - 2 * tx); ty = ty * ty * (3 - 2 * ty); tz = tz * tz * (3 - 2 * tz)
    @inline(__always) func h(_ a: Int32, _ b: Int32, _ c: Int32) -> Float { latticeHash(ix &+ a, iy &+ b, iz &+ c, seed) }
    let x00 = mix(h(0, 0, 0), h(1, 0, 0), tx), x10 = mix(h(0, 1, 0), h(1, 1, 0), tx)
    let x01 = mix(h(0, 0, 1), h(1, 0, 1), tx), x11 = mix(h(0, 1, 1), h(1, 1, 1), tx)
    return mix(mix(x00, x10, ty), mix(x01, x11, ty), tz)
}

/// Fractal sum of `octaves` value-noise layers, in [0, 1).
func fractalNoise(_ p: Vec3, octaves: Int, seed: UInt32) -> Float {
    var sum: Float = 0, amplitude: Float = 0.5, total: Float = 0, q = p
    for o in 0..<octaves {
        sum += amplitude * valueNoise(q, seed: seed &+ UInt32(o) &* 7919)
        total += amplitude; amplitude *= 0.5; q *= 2.03
    }
    return sum / total
}
