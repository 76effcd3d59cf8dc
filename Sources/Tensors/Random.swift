/// Philox4x32-10, a counter-based generator: the state is a seed, a stream and a counter, so
/// a run saves it in a few integers and resumes bit for bit, and element i of a bulk fill
/// depends only on (seed, stream, counter + i/4), whatever the thread count.
public struct Philox: Codable, Equatable, Sendable {
    public var seed: UInt64
    public var stream: UInt64
    /// Number of 4×32-bit blocks consumed.
    public var counter: UInt64

    public init(seed: UInt64, stream: UInt64 = 0) {
        self.seed = seed
        self.stream = stream
        self.counter = 0
    }

    /// An independent generator for a named purpose (e.g. a rank, a layer, dropout at a step).
    public func derived(_ stream: UInt64) -> Philox {
        Philox(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ self.stream &+ 0x632B_E59B_D9B4_E019, stream: stream)
    }

    @inline(__always)
    public static func block(seed: UInt64, stream: UInt64, counter: UInt64) -> SIMD4<UInt32> {
        var c = SIMD4<UInt32>(UInt32(truncatingIfNeeded: counter), UInt32(truncatingIfNeeded: counter >> 32),
                              UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32))
        var k0 = UInt32(truncatingIfNeeded: seed), k1 = UInt32(truncatingIfNeeded: seed >> 32)
        for _ in 0..<10 {
            let p0 = UInt64(0xD251_1F53) &* UInt64(c[0])
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c[2])
            c = SIMD4(UInt32(truncatingIfNeeded: p1 >> 32) ^ c[1] ^ k0, UInt32(truncatingIfNeeded: p1),
                      UInt32(truncatingIfNeeded: p0 >> 32) ^ c[3] ^ k1, UInt32(truncatingIfNeeded: p0))
            k0 &+= 0x9E37_79B9
            k1 &+= 0xBB67_AE85
        }
        return c
    }

    @inline(__always) static func unit(_ x: UInt32) -> Float { Float(x >> 8) * 0x1p-24 }

    public mutating func nextBlock() -> SIMD4<UInt32> {
        defer { counter &+= 1 }
        return Philox.block(seed: seed, stream: stream, counter: counter)
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Float { Philox.unit(nextBlock()[0]) }

    /// Uniform integer in 0..<n.
    public mutating func int(below n: Int) -> Int {
        check(n > 0, "Philox.int(below: \(n)): the bound must be positive")
        let b = nextBlock()
        let x = UInt64(b[0]) | UInt64(b[1]) << 32
        return Int(x % UInt64(n))
    }

    /// Standard normal (Box–Muller).
    public mutating func normal() -> Float {
        let b = nextBlock()
        return Philox.boxMuller(b[0], b[1]).0
    }

    @inline(__always) static func boxMuller(_ a: UInt32, _ b: UInt32) -> (Float, Float) {
        let u1 = max(unit(a), 0x1p-25), u2 = unit(b)
        let r = (-2 * logf(u1)).squareRoot()
        let t = 2 * Float.pi * u2
        return (r * cosf(t), r * sinf(t))
    }

    /// Fills `n` floats with U[low, high); consumes ceil(n/4) blocks.
    public mutating func fillUniform(_ p: UnsafeMutablePointer<Float>, count n: Int, low: Float = 0, high: Float = 1) {
        let (s, st, c0) = (seed, stream, counter)
        let blocks = (n + 3) / 4
        Parallel.forRanges(blocks, grain: 16_384) { r in
            for blk in r {
                let v = Philox.block(seed: s, stream: st, counter: c0 &+ UInt64(blk))
                for j in 0..<4 where blk * 4 + j < n { p[blk * 4 + j] = low + (high - low) * Philox.unit(v[j]) }
            }
        }
        counter &+= UInt64(blocks)
    }

    /// Fills `n` floats with N(mean, std²); consumes ceil(n/4) blocks.
    public mutating func fillNormal(_ p: UnsafeMutablePointer<Float>, count n: Int, mean: Float = 0, std: Float = 1) {
        let (s, st, c0) = (seed, stream, counter)
        let blocks = (n + 3) / 4
        Parallel.forRanges(blocks, grain: 16_384) { r in
            for blk in r {
                let v = Philox.block(seed: s, stream: st, counter: c0 &+ UInt64(blk))
                let (a, b) = Philox.boxMuller(v[0], v[1]), (c, d) = Philox.boxMuller(v[2], v[3])
                let z = SIMD4<Float>(a, b, c, d)
                for j in 0..<4 where blk * 4 + j < n { p[blk * 4 + j] = mean + std * z[j] }
            }
        }
        counter &+= UInt64(blocks)
    }
}

#if canImport(Glibc)
import Glibc
#endif

extension Tensor {
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1, rng: inout Philox) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        rng.fillUniform(t.storage.base, count: t.count, low: low, high: high)
        return t
    }

    public static func normal(_ shape: [Int], mean: Float = 0, std: Float = 1, rng: inout Philox) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        rng.fillNormal(t.storage.base, count: t.count, mean: mean, std: std)
        return t
    }
}
