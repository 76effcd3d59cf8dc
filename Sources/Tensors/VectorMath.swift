/// Transcendental functions on 16 lanes at a time, for the pointwise kernels.
///
/// libm's scalar `expf`/`tanhf`/`erff` cost several nanoseconds per element and do not
/// vectorise; these branch-free versions evaluate every lane with the same instructions, so a
/// value never depends on which lane or thread computed it (tails are padded to a full vector).
/// Accuracy: exp, log and tanh within a few ulp of libm (tested); erf is Abramowitz–Stegun 7.1.26
/// (absolute error < 1.5e-7), the same approximation PyTorch's vectorised CPU kernels use.
public typealias FloatVector = SIMD16<Float>
typealias IntVector = SIMD16<Int32>

public enum VectorMath {
    public static let width = FloatVector.scalarCount

    /// eˣ, the one exponential of every kernel (pointwise ops, softmax, attention, normalization,
    /// the rasterizer), so that all of them share its numerics. Cody–Waite reduction
    /// x = n·ln2 + r with fused multiply-adds, a degree-6 polynomial for eʳ on |r| ≤ ln2/2, and
    /// 2ⁿ applied as two factors so that the subnormal range and overflow to +∞ come out right.
    /// Transparent (always inlined, across modules too: the rasterizer's tile kernel in Splatting
    /// calls it per tile row), not `@inline(__always)`: that is a hint, and the checked build's
    /// optimizer dropped it in large kernels (GroupNorm+SiLU, attention's forward, the tile
    /// kernel), leaving a call per 16 lanes. The same for `sigmoid`, `silu`, `siluGradient`.
    @_transparent
    public static func exp(_ x: FloatVector) -> FloatVector {
        var xc = x.replacing(with: 89, where: x .> 89)         // e^89 overflows to +inf below
        xc.replace(with: -104, where: x .< -104)                // e^-104 rounds to 0 below
        // Round x·log2(e) to the nearest integer by adding 1.5·2²³ (ulp 1 there).
        let magic = FloatVector(repeating: 12_582_912)
        let t = magic.addingProduct(xc, 1.442_695_04)
        let n = t - magic
        let r = xc.addingProduct(n, -0.693_359_375).addingProduct(n, 2.121_944_4e-4)
        var y = FloatVector(repeating: 1.398_199_95e-3).addingProduct(r, 1.987_569_15e-4)
        y = FloatVector(repeating: 8.333_451_9e-3).addingProduct(y, r)
        y = FloatVector(repeating: 4.166_579_59e-2).addingProduct(y, r)
        y = FloatVector(repeating: 1.666_666_55e-1).addingProduct(y, r)
        y = FloatVector(repeating: 5.000_000_12e-1).addingProduct(y, r)
        y = r.addingProduct(y, r * r) + 1
        let ni = unsafeBitCast(t, to: SIMD16<Int32>.self) &- 0x4B40_0000
        let half = ni &>> 1
        let s1 = unsafeBitCast((half &+ 127) &<< 23, to: FloatVector.self)
        let s2 = unsafeBitCast((ni &- half &+ 127) &<< 23, to: FloatVector.self)
        return y * s1 * s2
    }

    /// eˣ of one value with the vector function's numerics (row corrections, scalar tails,
    /// filter taps), so that a value never depends on whether it was computed alone.
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float { exp(FloatVector(repeating: x))[0] }

    /// Natural logarithm (Cephes logf): x = m·2ᵉ with m in [√½, √2), a degree-9 polynomial in m − 1.
    /// log(0) = −∞, log(x < 0) = NaN, log(+∞) = +∞; subnormals are scaled up first.
    @inline(__always)
    public static func log(_ x: FloatVector) -> FloatVector {
        let tiny = x .< Float.leastNormalMagnitude
        let xs = x.replacing(with: x * 8_388_608, where: tiny)   // ×2²³
        let bits = unsafeBitCast(xs, to: IntVector.self)
        var e = (bits &>> 23) &- 126
        e.replace(with: e &- 23, where: tiny)
        var m = unsafeBitCast((bits & 0x007F_FFFF) | 0x3F00_0000, to: FloatVector.self)  // [0.5, 1)
        let low = m .< 0.707_106_781
        e.replace(with: e &- 1, where: low)
        m = m.replacing(with: m + m - 1, where: low)
        m.replace(with: m - 1, where: .!low)
        let fe = FloatVector(e)
        let z = m * m
        var y: FloatVector = m * 7.037_683_629_2e-2 - 1.151_461_031_0e-1
        y = y * m + 1.167_699_874_0e-1
        y = y * m - 1.242_014_084_6e-1
        y = y * m + 1.424_932_278_7e-1
        y = y * m - 1.666_805_766_5e-1
        y = y * m + 2.000_071_476_5e-1
        y = y * m - 2.499_999_399_3e-1
        y = y * m + 3.333_333_117_4e-1
        y = y * m * z
        y = y + fe * -2.121_944_40e-4
        y = y - z * 0.5
        var r = m + y
        r = r + fe * 0.693_359_375
        r.replace(with: -.infinity, where: x .== 0)
        r.replace(with: .nan, where: x .< 0 .| x .!= x)
        r.replace(with: .infinity, where: x .== .infinity)
        return r
    }

    /// log(1 + x) for x ≥ 0 without losing the low digits of small x (Goldberg's correction).
    @inline(__always)
    static func log1pNonNegative(_ x: FloatVector) -> FloatVector {
        let w = 1 + x
        var r = log(w) * x / (w - 1)
        r.replace(with: x, where: w .== 1)
        r.replace(with: .infinity, where: x .== .infinity)
        return r
    }

    /// tanh (Cephes tanhf): an odd polynomial for |x| < 0.625, else 1 − 2/(e²ˣ + 1).
    @inline(__always)
    public static func tanh(_ x: FloatVector) -> FloatVector {
        let a = abs(x)
        let s = x * x
        var p: FloatVector = s * -5.704_988_727_45e-3 + 2.063_908_879_54e-2
        p = p * s - 5.373_971_555_31e-2
        p = p * s + 1.333_144_220_36e-1
        p = p * s - 3.333_328_194_22e-1
        let small = p * s * x + x
        var large = 1 - 2 / (exp(a + a) + 1)
        large.replace(with: -large, where: x .< 0)
        return small.replacing(with: large, where: a .>= 0.625)
    }

    /// erf, Abramowitz–Stegun 7.1.26.
    @inline(__always)
    public static func erf(_ x: FloatVector) -> FloatVector {
        let a = abs(x)
        return erf(x, expOfMinusSquare: exp(-(a * a)))
    }

    /// erf(x) given e^(−x²), for callers that need that exponential themselves (GELU's gradient).
    @inline(__always)
    public static func erf(_ x: FloatVector, expOfMinusSquare e: FloatVector) -> FloatVector {
        let t = 1 / (abs(x) * 0.327_591_1 + 1)
        var p: FloatVector = t * 1.061_405_429 - 1.453_152_027
        p = p * t + 1.421_413_741
        p = p * t - 0.284_496_736
        p = p * t + 0.254_829_592
        let r = 1 - p * t * e
        return r.replacing(with: -r, where: x .< 0)
    }

    @inline(__always)
    public static func abs(_ x: FloatVector) -> FloatVector {
        unsafeBitCast(unsafeBitCast(x, to: IntVector.self) & 0x7FFF_FFFF, to: FloatVector.self)
    }

    /// 1 / (1 + e⁻ˣ); saturates cleanly to 0 and 1.
    @_transparent
    public static func sigmoid(_ x: FloatVector) -> FloatVector {
        1 / (1 + exp(-x))
    }

    /// x·σ(x): the SiLU of the pointwise op and of the fused GroupNorm+SiLU, one definition
    /// (transparent like `exp`: as an `@inline(__always)` method it stayed a call per 16 floats,
    /// on 128-bit halves, in GroupNorm+SiLU's loop).
    @_transparent
    public static func silu(_ x: FloatVector) -> FloatVector { x * sigmoid(x) }

    /// g·dSiLU/dx = g·σ(x)·(1 + x·(1 − σ(x))).
    @_transparent
    public static func siluGradient(_ x: FloatVector, _ g: FloatVector) -> FloatVector {
        let s = sigmoid(x)
        return g * s * (1 + x * (1 - s))
    }
}

extension VectorMath {
    /// Calls `body(i, k)` for i = 0, 16, 32, … < n with k = min(16, n − i) lanes: the full vectors
    /// in a loop of their own, then the tail once. In that loop k is the constant 16, so the
    /// inlined body's `load`/`store(count: k)` are single vector moves, with no per-vector test
    /// for the lane-by-lane tail path. For small bodies (additions, moves): one that inlines the
    /// exponential is too large to be inlined back and runs as a call per vector.
    @inline(__always)
    static func forEachVector(_ n: Int, _ body: (_ i: Int, _ k: Int) -> Void) {
        let w = FloatVector.scalarCount
        var i = 0
        while i &+ w <= n { body(i, w); i &+= w }
        if i < n { body(i, n &- i) }
    }

    /// Loads lanes from `p`; only `count` (< width allowed) are read, the rest are zero.
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, count: Int = FloatVector.scalarCount) -> FloatVector {
        if count == FloatVector.scalarCount { return UnsafeRawPointer(p).loadUnaligned(as: FloatVector.self) }
        var v = FloatVector()
        for i in 0..<count { v[i] = p[i] }
        return v
    }

    /// Stores the first `count` lanes of `v` to `p`.
    @inline(__always)
    static func store(_ v: FloatVector, _ p: UnsafeMutablePointer<Float>, count: Int = FloatVector.scalarCount) {
        if count == FloatVector.scalarCount { UnsafeMutableRawPointer(p).storeBytes(of: v, as: FloatVector.self); return }
        for i in 0..<count { p[i] = v[i] }
    }
}
