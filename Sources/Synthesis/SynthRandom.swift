import Foundation
import Tensors

/// Convenience draws on top of `Philox` for the generators. Every subject derives its own
/// generator from (seed, purpose, index), so a dataset does not depend on thread scheduling.
public struct SynthRandom: Sendable {
    public var philox: Philox
    public init(seed: UInt64, purpose: UInt64, index: UInt64) {
        philox = Philox(seed: seed, stream: purpose).derived(index)
    }
    public mutating func uniform() -> Float { philox.uniform() }
    public mutating func range(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * philox.uniform() }
    /// Normal clipped to ±2.5σ: shape parameters stay plausible.
    public mutating func normal(_ mean: Float = 0, _ std: Float = 1) -> Float {
        mean + std * min(2.5, max(-2.5, philox.normal()))
    }
    public mutating func chance(_ p: Float) -> Bool { philox.uniform() < p }
    public mutating func int(below n: Int) -> Int { philox.int(below: n) }
    public mutating func pick<T>(_ items: [T]) -> T { items[philox.int(below: items.count)] }
    /// Picks an index with the given (unnormalised) weights.
    public mutating func weighted(_ weights: [Float]) -> Int {
        var x = philox.uniform() * weights.reduce(0, +)
        for (i, w) in weights.enumerated() { x -= w; if x < 0 { return i } }
        return weights.count - 1
    }
    public mutating func colour(_ lo: Vec3, _ hi: Vec3) -> Vec3 {
        Vec3(range(lo.x, hi.x), range(lo.y, hi.y), range(lo.z, hi.z))
    }
}

/// sRGB-ish (gamma 2.2) colour from 0–255 components, in linear light.
@inline(__always) func linear(_ r: Float, _ g: Float, _ b: Float) -> Vec3 {
    Vec3(powf(r / 255, 2.2), powf(g / 255, 2.2), powf(b / 255, 2.2))
}
@inline(__always) func linear(_ c: Vec3) -> Vec3 { Vec3(powf(c.x, 2.2), powf(c.y, 2.2), powf(c.z, 2.2)) }
func hexColour(_ c: Vec3) -> String {
    let s = Vec3(powf(clamp01(c.x), 1 / 2.2), powf(clamp01(c.y), 1 / 2.2), powf(clamp01(c.z), 1 / 2.2)) * 255
    return "#" + [s.x, s.y, s.z].map { v in
        let h = String(Int(v.rounded()), radix: 16)
        return h.count == 1 ? "0" + h : h
    }.joined()
}
