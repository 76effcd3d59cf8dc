/// Inverted dropout: each element survives with probability 1 − p and is scaled by 1/(1 − p),
/// so evaluation needs no rescaling. Element i's decision comes from Philox block
/// (counter + i/4), lane i mod 4: the mask is reproducible for a given generator state,
/// whatever the thread count, and the backward regenerates it instead of storing it.
public func dropout(_ x: Tensor, probability p: Float, training: Bool = true, rng: inout Philox) -> Tensor {
    precondition(p >= 0 && p <= 1, "dropout probability \(p) outside [0, 1]")
    if !training || p == 0 || x.count == 0 { return x }
    let n = x.count
    let (seed, stream, start) = (rng.seed, rng.stream, rng.counter)
    rng.counter &+= UInt64((n + 3) / 4)
    let scale: Float = p == 1 ? 0 : 1 / (1 - p)

    /// dst[i] (+)= src[i]·scale for kept elements, over 4-element Philox blocks.
    func masked(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, accumulate: Bool) {
        Parallel.forRanges((n + 3) / 4, grain: 8192) { blocks in
            for b in blocks {
                let bits = Philox.block(seed: seed, stream: stream, counter: start &+ UInt64(b))
                for lane in 0..<4 {
                    let i = b * 4 + lane
                    if i >= n { break }
                    let v = Philox.unit(bits[lane]) >= p ? src[i] * scale : 0
                    if accumulate { dst[i] += v } else { dst[i] = v }
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
