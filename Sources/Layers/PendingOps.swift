import Foundation
import Tensors

// TODO: replace with Tensors ops (branch ops-pointwise) once they land: `+`, `*`, `gelu`, `silu`, `dropout`.
// Minimal, correct forward/backward for the shapes the layers use.

/// a + b where b equals a's shape, a trailing suffix of it (bias), or a's leading axes
/// followed by ones (per-channel, e.g. [B, C, 1, 1] on [B, C, H, W]).
func pendingAdd(_ a: Tensor, _ b: Tensor) -> Tensor {
    let n = a.count, m = b.count
    let trailing = a.shape.count >= b.shape.count && Array(a.shape.suffix(b.shape.count)) == b.shape
    let lead = b.shape.firstIndex(of: 1).map { Array(b.shape[..<$0]) } ?? b.shape
    precondition(trailing || (b.rank == a.rank && Array(a.shape.prefix(lead.count)) == lead && b.shape.dropFirst(lead.count).allSatisfy { $0 == 1 }),
                 "add: cannot broadcast \(b.shape) onto \(a.shape)")
    let inner = trailing ? 1 : n / m  // leading broadcast: each b element covers `inner` consecutive a elements
    let out = Tensor(uninitializedShape: a.shape)
    let pa = a.storage.base, pb = b.storage.base, po = out.storage.base
    Parallel.forRanges(n, grain: 1 << 16) { r in
        if trailing { for i in r { po[i] = pa[i] + pb[i % m] } } else { for i in r { po[i] = pa[i] + pb[i / inner] } }
    }
    return out.recorded(a, b) { g in
        if let ga = Tape.shared.gradientBuffer(a.gradSlot) { for i in 0..<n { ga[i] += g[i] } }
        if let gb = Tape.shared.gradientBuffer(b.gradSlot) {
            if trailing { for i in 0..<n { gb[i % m] += g[i] } } else { for i in 0..<n { gb[i / inner] += g[i] } }
        }
    }
}

/// Elementwise a·b, same shapes.
func pendingMultiply(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.shape == b.shape, "multiply: \(a.shape) vs \(b.shape)")
    let n = a.count
    let out = Tensor(uninitializedShape: a.shape)
    let pa = a.storage.base, pb = b.storage.base, po = out.storage.base
    for i in 0..<n { po[i] = pa[i] * pb[i] }
    return out.recorded(a, b) { g in
        let pa = a.storage.base, pb = b.storage.base  // capture the tensors, not just their memory
        if let ga = Tape.shared.gradientBuffer(a.gradSlot) { for i in 0..<n { ga[i] += g[i] * pb[i] } }
        if let gb = Tape.shared.gradientBuffer(b.gradSlot) { for i in 0..<n { gb[i] += g[i] * pa[i] } }
    }
}

private func pendingUnary(_ x: Tensor, _ f: (Float) -> Float, _ df: @escaping (Float) -> Float) -> Tensor {
    let n = x.count
    let out = Tensor(uninitializedShape: x.shape)
    let px = x.storage.base, po = out.storage.base
    Parallel.forRanges(n, grain: 1 << 14) { r in for i in r { po[i] = f(px[i]) } }
    return out.recorded(x) { g in
        let px = x.storage.base  // capture the tensor, not just its memory
        if let gx = Tape.shared.gradientBuffer(x.gradSlot) { for i in 0..<n { gx[i] += g[i] * df(px[i]) } }
    }
}

/// Exact GELU, x·Φ(x).
func pendingGELU(_ x: Tensor) -> Tensor {
    pendingUnary(x, { $0 * 0.5 * (1 + erff($0 * 0.70710678)) }) { v in
        0.5 * (1 + erff(v * 0.70710678)) + v * 0.39894228 * expf(-0.5 * v * v)
    }
}

/// x·σ(x).
func pendingSiLU(_ x: Tensor) -> Tensor {
    pendingUnary(x, { $0 / (1 + expf(-$0)) }) { v in
        let s = 1 / (1 + expf(-v))
        return s * (1 + v * (1 - s))
    }
}
