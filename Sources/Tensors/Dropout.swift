/// Inverted dropout: each element survives with probability 1 − p and is scaled by 1/(1 − p),
/// so evaluation needs no rescaling. Element i's decision comes from Philox block
/// (counter + i/4), lane i mod 4: the mask is reproducible for a given generator state,
/// whatever the thread count, and the backward regenerates it instead of storing it.
public func dropout(_ x: Tensor, probability p: Float, training: Bool = true, rng: inout Philox) -> Tensor {
    check(p >= 0 && p <= 1, "dropout probability \(p) outside [0, 1]")
    if !training || p == 0 || x.count == 0 { return x }
    let n = x.count
    let (seed, stream, start) = (rng.seed, rng.stream, rng.counter)
    rng.counter &+= UInt64((n + 3) / 4)
    let scale: Float = p == 1 ? 0 : 1 / (1 - p)

    /// dst[i] (+)= src[i]·scale for kept elements, over 4-element Philox blocks.
    func masked(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, accumulate: Bool) {
        Parallel.forRanges((n + 3) / 4, grain: 8192) { blocks in
            for b in blocks {
                let (w0, w1, w2, w3) = philoxWords(seed: seed, stream: stream, counter: start &+ UInt64(b))
                let i = b * 4
                if i + 4 <= n {
                    let v = SIMD4<Float>(Philox.unit(w0) >= p ? src[i] * scale : 0, Philox.unit(w1) >= p ? src[i + 1] * scale : 0,
                                         Philox.unit(w2) >= p ? src[i + 2] * scale : 0, Philox.unit(w3) >= p ? src[i + 3] * scale : 0)
                    for lane in 0..<4 { if accumulate { dst[i + lane] += v[lane] } else { dst[i + lane] = v[lane] } }
                } else {
                    let words = [w0, w1, w2, w3]
                    for lane in 0..<(n - i) {
                        let v = Philox.unit(words[lane]) >= p ? src[i + lane] * scale : 0
                        if accumulate { dst[i + lane] += v } else { dst[i + lane] = v }
                    }
                }
            }
        }
    }

    let out = Tensor(uninitializedShape: x.shape)
    masked(x.storage.base, out.storage.base, accumulate: false)
    return out.recorded(x) { g in
        if let gx = Tape.shared.gradientBuffer(x.gradSlot) { masked(g, gx, accumulate: true) }
    }
}

/// `Philox.block` on scalar registers: the same 4×32-bit output without vector shuffles
/// between rounds, which makes mask generation several times faster.
@inline(__always)
func philoxWords(seed: UInt64, stream: UInt64, counter: UInt64) -> (UInt32, UInt32, UInt32, UInt32) {
    var c0 = UInt32(truncatingIfNeeded: counter), c1 = UInt32(truncatingIfNeeded: counter >> 32)
    var c2 = UInt32(truncatingIfNeeded: stream), c3 = UInt32(truncatingIfNeeded: stream >> 32)
    var k0 = UInt32(truncatingIfNeeded: seed), k1 = UInt32(truncatingIfNeeded: seed >> 32)
    for _ in 0..<10 {
        let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
        let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
        (c0, c1, c2, c3) = (UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0, UInt32(truncatingIfNeeded: p1),
                            UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1, UInt32(truncatingIfNeeded: p0))
        k0 &+= 0x9E37_79B9
        k1 &+= 0xBB67_AE85
    }
    return (c0, c1, c2, c3)
}
