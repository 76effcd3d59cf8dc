/// Layer and group normalisation (PyTorch semantics: biased variance, eps inside the square
/// root), and GroupNorm fused with SiLU as diffusers' ResNet blocks use it.
///
/// Statistics are two-pass (mean, then Σ(x−mean)²) with 16 independent Float accumulators, so
/// large offsets do not cancel. Forward saves only mean and 1/σ per row or group.

/// LayerNorm over the last axis; `weight` and `bias` ([D]) are each optional.
public func layerNorm(_ x: Tensor, weight: Tensor? = nil, bias: Tensor? = nil, eps: Float = 1e-5) -> Tensor {
    check(x.rank >= 1, "layerNorm of a scalar")
    let d = x.shape[x.rank - 1], rows = x.count / max(d, 1)
    if let weight { check(weight.count == d, "layerNorm weight \(weight.shape) for last axis \(d) of \(x.shape)") }
    if let bias { check(bias.count == d, "layerNorm bias \(bias.shape) for last axis \(d) of \(x.shape)") }
    let out = Tensor(uninitializedShape: x.shape)
    let stats = Tensor(uninitializedShape: [rows, 2])  // mean, 1/σ
    let xp = x.storage.base, yp = out.storage.base, sp = stats.storage.base
    let wp = weight?.storage.base, bp = bias?.storage.base
    Parallel.forRanges(rows, grain: max(1, 16_384 / max(d, 1))) { range in
        for r in range {
            let row = xp + r * d, y = yp + r * d
            let (mean, rstd) = normalStatistics(row, d, eps: eps)
            sp[2 * r] = mean; sp[2 * r + 1] = rstd
            for c in 0..<d {
                var v = (row[c] - mean) * rstd
                if let wp { v *= wp[c] }
                if let bp { v += bp[c] }
                y[c] = v
            }
        }
    }
    let inputs = [x] + (weight.map { [$0] } ?? []) + (bias.map { [$0] } ?? [])
    return out.recorded(anyTracked: inputs.contains { $0.isTracked }) { g in
        let sp = stats.storage.base  // captures `stats`: the pointer alone would let it return to the pool
        let tape = Tape.shared
        if let gx = tape.gradientBuffer(x.gradSlot) {
            Parallel.forRanges(rows, grain: max(1, 16_384 / max(d, 1))) { range in
                for r in range {
                    let row = xp + r * d, gr = g + r * d, dx = gx + r * d
                    let mean = sp[2 * r], rstd = sp[2 * r + 1]
                    // dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = g·w
                    var sumG: Float = 0, sumGX: Float = 0
                    for c in 0..<d {
                        let gh = wp.map { gr[c] * $0[c] } ?? gr[c]
                        sumG += gh; sumGX += gh * (row[c] - mean) * rstd
                    }
                    let a = sumG / Float(d), b = sumGX / Float(d)
                    for c in 0..<d {
                        let gh = wp.map { gr[c] * $0[c] } ?? gr[c]
                        dx[c] += rstd * (gh - a - (row[c] - mean) * rstd * b)
                    }
                }
            }
        }
        let gw = weight.flatMap { tape.gradientBuffer($0.gradSlot) }
        let gb = bias.flatMap { tape.gradientBuffer($0.gradSlot) }
        if gw != nil || gb != nil {
            // Column ranges per thread; rows summed in order: deterministic for any thread count.
            Parallel.forRanges(d, grain: max(1, 16_384 / max(rows, 1))) { cols in
                for r in 0..<rows {
                    let row = xp + r * d, gr = g + r * d
                    let mean = sp[2 * r], rstd = sp[2 * r + 1]
                    if let gw { for c in cols { gw[c] += gr[c] * (row[c] - mean) * rstd } }
                    if let gb { for c in cols { gb[c] += gr[c] } }
                }
            }
        }
    }
}

/// GroupNorm of x [N, C, *] with `groups` groups over channels; `weight`, `bias` are [C].
public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor? = nil, bias: Tensor? = nil, eps: Float = 1e-5) -> Tensor {
    GroupNormKernel(x, groups: groups, weight: weight, bias: bias, eps: eps).apply(silu: false)
}

/// SiLU(GroupNorm(x)) in one pass over memory, forward and backward (diffusers' ResnetBlock2D
/// norm → nonlinearity).
public func groupNormSiLU(_ x: Tensor, groups: Int, weight: Tensor? = nil, bias: Tensor? = nil, eps: Float = 1e-5) -> Tensor {
    GroupNormKernel(x, groups: groups, weight: weight, bias: bias, eps: eps).apply(silu: true)
}

struct GroupNormKernel {
    let x: Tensor, weight: Tensor?, bias: Tensor?
    let n, c, spatial, groups, perGroup: Int
    let eps: Float

    init(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Float) {
        check(x.rank >= 2, "groupNorm needs [N, C, *], got \(x.shape)")
        let c = x.shape[1]
        check(groups > 0 && c % groups == 0, "groupNorm: \(c) channels do not split into \(groups) groups")
        if let weight { check(weight.count == c, "groupNorm weight \(weight.shape) for \(c) channels") }
        if let bias { check(bias.count == c, "groupNorm bias \(bias.shape) for \(c) channels") }
        self.x = x; self.weight = weight; self.bias = bias; self.eps = eps
        self.n = x.shape[0]; self.c = c; self.groups = groups
        self.spatial = x.shape[2...].reduce(1, *)
        self.perGroup = c / groups * spatial
    }

    /// The affine weight and bias of channel `ch` (1 and 0 without them).
    @inline(__always)
    func affine(_ ch: Int) -> (scale: Float, shift: Float) {
        (weight.map { $0.storage.base[ch] } ?? 1, bias.map { $0.storage.base[ch] } ?? 0)
    }

    func apply(silu: Bool) -> Tensor {
        let out = Tensor(uninitializedShape: x.shape)
        let stats = Tensor(uninitializedShape: [n * groups, 2])
        let xp = x.storage.base, yp = out.storage.base, sp = stats.storage.base
        let channelsPerGroup = c / groups, spatial = spatial, perGroup = perGroup, groups = groups, eps = eps
        Parallel.forRanges(n * groups, grain: max(1, 16_384 / max(perGroup, 1))) { range in
            for ng in range {
                let base = ng * perGroup
                let (mean, rstd) = normalStatistics(xp + base, perGroup, eps: eps)
                sp[2 * ng] = mean; sp[2 * ng + 1] = rstd
                for k in 0..<channelsPerGroup {
                    let ch = (ng % groups) * channelsPerGroup + k
                    let (w, b) = affine(ch)
                    // z = x·(rstd·w) + (b − mean·rstd·w)
                    let scale = rstd * w, shift = b - mean * scale
                    let src = xp + base + k * spatial, dst = yp + base + k * spatial
                    if silu {
                        siluAffine(src, dst, spatial, scale: scale, shift: shift)
                    } else {
                        for s in 0..<spatial { dst[s] = src[s] * scale + shift }
                    }
                }
            }
        }
        let kernel = self
        let inputs = [x] + (weight.map { [$0] } ?? []) + (bias.map { [$0] } ?? [])
        return out.recorded(anyTracked: inputs.contains { $0.isTracked }) { g in
            let sp = stats.storage.base  // captures `stats`: the pointer alone would let it return to the pool
            if silu {
                // dz = g·σ(z)·(1 + z·(1 − σ(z))), z recomputed from the saved statistics.
                let dz = Tensor(uninitializedShape: kernel.x.shape)
                let dzp = dz.storage.base
                Parallel.forRanges(kernel.n * groups, grain: max(1, 16_384 / max(perGroup, 1))) { range in
                    for ng in range {
                        let base = ng * perGroup, mean = sp[2 * ng], rstd = sp[2 * ng + 1]
                        for k in 0..<channelsPerGroup {
                            let (w, b) = kernel.affine((ng % groups) * channelsPerGroup + k)
                            let scale = rstd * w, shift = b - mean * scale
                            let o = base + k * spatial
                            siluAffineBackward(xp + o, g + o, dzp + o, spatial, scale: scale, shift: shift)
                        }
                    }
                }
                kernel.backward(dz: dzp, stats: sp)
            } else {
                kernel.backward(dz: g, stats: sp)
            }
        }
    }

    /// Accumulates dx, dw, db from dz = ∂L/∂(normalised·w + b).
    func backward(dz: UnsafePointer<Float>, stats sp: UnsafePointer<Float>) {
        let tape = Tape.shared
        let xp = x.storage.base, channelsPerGroup = c / groups, spatial = spatial, perGroup = perGroup, groups = groups
        let wp = weight?.storage.base
        if let gx = tape.gradientBuffer(x.gradSlot) {
            Parallel.forRanges(n * groups, grain: max(1, 16_384 / max(perGroup, 1))) { range in
                for ng in range {
                    let base = ng * perGroup, mean = sp[2 * ng], rstd = sp[2 * ng + 1]
                    var sumG: Float = 0, sumGX: Float = 0
                    for k in 0..<channelsPerGroup {
                        let w = wp.map { $0[(ng % groups) * channelsPerGroup + k] } ?? 1
                        let o = base + k * spatial
                        sumG += w * simdSum(dz + o, spatial)
                        sumGX += w * centeredDot(dz + o, xp + o, mean: mean, spatial) * rstd
                    }
                    let a = sumG / Float(perGroup), b = sumGX / Float(perGroup)
                    for k in 0..<channelsPerGroup {
                        let w = wp.map { $0[(ng % groups) * channelsPerGroup + k] } ?? 1
                        let o = base + k * spatial
                        // dx = rstd·(w·dz − a − x̂·b), x̂ = (x − mean)·rstd
                        let cg = rstd * w, cx = -rstd * rstd * b, c0 = -rstd * a
                        let d = dz + o, xs = xp + o, dx = gx + o
                        for s in 0..<spatial { dx[s] += cg * d[s] + cx * (xs[s] - mean) + c0 }
                    }
                }
            }
        }
        let gw = weight.flatMap { tape.gradientBuffer($0.gradSlot) }
        let gb = bias.flatMap { tape.gradientBuffer($0.gradSlot) }
        if gw != nil || gb != nil {
            // One thread per channel range; samples summed in order.
            Parallel.forRanges(c, grain: max(1, 16_384 / max(n * spatial, 1))) { channels in
                for ch in channels {
                    let gi = ch / channelsPerGroup
                    var dw: Float = 0, db: Float = 0
                    for s in 0..<n {
                        let ng = s * groups + gi, mean = sp[2 * ng], rstd = sp[2 * ng + 1]
                        let o = (s * c + ch) * spatial
                        dw += centeredDot(dz + o, xp + o, mean: mean, spatial) * rstd
                        db += simdSum(dz + o, spatial)
                    }
                    gw?[ch] += dw
                    gb?[ch] += db
                }
            }
        }
    }
}

/// Mean and 1/√(var + eps) of n floats, two-pass.
@inline(__always)
func normalStatistics(_ p: UnsafePointer<Float>, _ n: Int, eps: Float) -> (mean: Float, rstd: Float) {
    let mean = simdSum(p, n) / Float(n)
    var acc = SIMD16<Float>()
    var i = 0
    let m = SIMD16<Float>(repeating: mean)
    while i + 16 <= n {
        let v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self) - m
        acc += v * v
        i += 16
    }
    var s = acc.sum()
    while i < n { let v = p[i] - mean; s += v * v; i += 1 }
    return (mean, 1 / (s / Float(n) + eps).squareRoot())
}

/// Σ g[i]·(x[i] − mean): centred first, so a large mean does not cancel digits away.
@inline(__always)
func centeredDot(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, mean: Float, _ n: Int) -> Float {
    var acc = SIMD16<Float>()
    var i = 0
    let m = SIMD16<Float>(repeating: mean)
    while i + 16 <= n {
        acc += UnsafeRawPointer(g + i).loadUnaligned(as: SIMD16<Float>.self)
            * (UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self) - m)
        i += 16
    }
    var s = acc.sum()
    while i < n { s += g[i] * (x[i] - mean); i += 1 }
    return s
}

/// dst = SiLU(src·scale + shift), with the standalone SiLU's numerics (tails padded to a vector).
///
/// Full vectors in a plain loop, then the tail, as `PointwiseKernels`: written as a closure for
/// `VectorMath.forEachVector`, the body (the inlined exponential) was too large for the optimizer
/// to inline back, and it became a call per 16 floats.
func siluAffine(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int, scale: Float, shift: Float) {
    let w = VectorMath.width
    var i = 0
    while i &+ w <= n {
        VectorMath.store(VectorMath.silu(VectorMath.load(src + i) * scale + shift), dst + i)
        i &+= w
    }
    if i < n {
        let k = n &- i
        VectorMath.store(VectorMath.silu(VectorMath.load(src + i, count: k) * scale + shift), dst + i, count: k)
    }
}

/// dz = g·σ(z)·(1 + z·(1 − σ(z))) with z = x·scale + shift (the standalone SiLU's gradient); loops
/// as `siluAffine`.
func siluAffineBackward(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ dz: UnsafeMutablePointer<Float>, _ n: Int,
                        scale: Float, shift: Float) {
    let w = VectorMath.width
    var i = 0
    while i &+ w <= n {
        let z = VectorMath.load(x + i) * scale + shift
        VectorMath.store(VectorMath.siluGradient(z, VectorMath.load(g + i)), dz + i)
        i &+= w
    }
    if i < n {
        let k = n &- i
        let z = VectorMath.load(x + i, count: k) * scale + shift
        VectorMath.store(VectorMath.siluGradient(z, VectorMath.load(g + i, count: k)), dz + i, count: k)
    }
}
