/// SSIM loss, 1 − mean SSIM, as pytorch-msssim's `ssim(…, data_range=1, size_average=True)`:
/// 11×11 Gaussian window (σ = 1.5), C1 = 0.01², C2 = 0.03², 'valid' filtering (no padding, so
/// the SSIM map is (H−10)×(W−10)), averaged over every map position, channel and image.
///
/// The Gaussian is separable: a horizontal then a vertical 11-tap pass; backward applies the
/// adjoint passes (vertical then horizontal scatter) to ∂SSIM/∂(μ, E[x²], E[xy]).

/// pred, target: [N, C, H, W] with H, W ≥ 11, values in [0, 1]. Differentiable in both.
public func ssimLoss(_ pred: Tensor, _ target: Tensor) -> Tensor {
    check(pred.shape == target.shape, "ssimLoss: pred \(pred.shape) and target \(target.shape) differ")
    check(pred.rank == 4, "ssimLoss needs [N, C, H, W] images, got \(pred.shape)")
    check(pred.shape[2] >= SSIMKernel.size && pred.shape[3] >= SSIMKernel.size,
          "ssimLoss needs images of at least 11×11, got \(pred.shape)")
    let kernel = SSIMKernel(planes: pred.shape[0] * pred.shape[1], h: pred.shape[2], w: pred.shape[3])
    let meanSSIM = kernel.run(pred.storage.base, target.storage.base, upstream: nil, dx: nil, dy: nil)
    let out = Tensor(scalar: Float(1 - meanSSIM))
    return out.recorded(pred, target) { g in
        let tape = Tape.shared
        _ = kernel.run(pred.storage.base, target.storage.base, upstream: g[0],
                       dx: tape.gradientBuffer(pred.gradSlot), dy: tape.gradientBuffer(target.gradSlot))
    }
}

struct SSIMKernel {
    static let size = 11
    static let sigma: Float = 1.5
    static let c1: Float = 0.01 * 0.01
    static let c2: Float = 0.03 * 0.03
    static let window: [Float] = {
        let raw = (0..<size).map { i -> Float in
            let d = Float(i - size / 2)
            return VectorMath.exp(-d * d / (2 * sigma * sigma))
        }
        let total = raw.reduce(0, +)
        return raw.map { $0 / total }
    }()

    let planes, h, w: Int
    var hv: Int { h - Self.size + 1 }
    var wv: Int { w - Self.size + 1 }

    /// Mean SSIM over all planes. With `upstream` (∂L/∂loss), also accumulates ∂L/∂x, ∂L/∂y.
    func run(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, upstream: Float?,
             dx: UnsafeMutablePointer<Float>?, dy: UnsafeMutablePointer<Float>?) -> Double {
        if upstream != nil && dx == nil && dy == nil { return 0 }
        let hv = hv, wv = wv, h = h, w = w
        let planeSums = Tensor(zeros: [planes])
        let sums = planeSums.storage.base
        // d(loss)/d(SSIM at one position): the loss is 1 − mean.
        let coefficient = -(upstream ?? 0) / Float(planes * hv * wv)
        Parallel.forRanges(planes, grain: 1) { range in
            // Scratch: 5 horizontally filtered maps [h, wv], 5 filtered maps [hv, wv], 1 plane [h, w].
            let scratch = Tensor(uninitializedShape: [5 * h * wv + 5 * hv * wv + h * w])
            let hbuf = scratch.storage.base, maps = hbuf + 5 * h * wv, product = maps + 5 * hv * wv
            for p in range {
                let xp = x + p * h * w, yp = y + p * h * w
                // Filtered x, y, x², y², xy.
                horizontal(xp, hbuf)
                horizontal(yp, hbuf + h * wv)
                for i in 0..<(h * w) { product[i] = xp[i] * xp[i] }
                horizontal(product, hbuf + 2 * h * wv)
                for i in 0..<(h * w) { product[i] = yp[i] * yp[i] }
                horizontal(product, hbuf + 3 * h * wv)
                for i in 0..<(h * w) { product[i] = xp[i] * yp[i] }
                horizontal(product, hbuf + 4 * h * wv)
                for q in 0..<5 { vertical(hbuf + q * h * wv, maps + q * hv * wv) }
                let mu1 = maps, mu2 = maps + hv * wv, e11 = maps + 2 * hv * wv, e22 = maps + 3 * hv * wv
                let e12 = maps + 4 * hv * wv
                var total = 0.0
                for i in 0..<(hv * wv) {
                    let m1 = mu1[i], m2 = mu2[i]
                    let a1 = 2 * m1 * m2 + Self.c1, a2 = 2 * (e12[i] - m1 * m2) + Self.c2
                    let b1 = m1 * m1 + m2 * m2 + Self.c1, b2 = (e11[i] - m1 * m1) + (e22[i] - m2 * m2) + Self.c2
                    let s = a1 * a2 / (b1 * b2)
                    total += Double(s)
                    guard upstream != nil else { continue }
                    // ∂S/∂μ₁ = 2μ₂(A₂ − A₁)/(B₁B₂) − 2μ₁S(B₂ − B₁)/(B₁B₂), ∂S/∂E[x²] = −S/B₂,
                    // ∂S/∂E[xy] = 2A₁/(B₁B₂); symmetric in (x, y). Overwrites the maps in place.
                    let inv = 1 / (b1 * b2), spread = s * (b2 - b1) * inv * 2, common = 2 * (a2 - a1) * inv
                    mu1[i] = coefficient * (m2 * common - m1 * spread)
                    mu2[i] = coefficient * (m1 * common - m2 * spread)
                    e11[i] = coefficient * (-s / b2)
                    e22[i] = coefficient * (-s / b2)
                    e12[i] = coefficient * (2 * a1 * inv)
                }
                sums[p] = Float(total / Double(hv * wv))
                guard upstream != nil else { continue }
                // Adjoint filtering: back to full-size gradient planes of μ, E[x²], E[y²], E[xy].
                for q in 0..<5 { verticalAdjoint(maps + q * hv * wv, hbuf + q * h * wv) }
                let gMu1 = product  // reuse as [h, w] planes one at a time
                if let dx {
                    let d = dx + p * h * w
                    horizontalAdjoint(hbuf, gMu1)
                    for i in 0..<(h * w) { d[i] += gMu1[i] }
                    horizontalAdjoint(hbuf + 2 * h * wv, gMu1)
                    for i in 0..<(h * w) { d[i] += 2 * xp[i] * gMu1[i] }
                    horizontalAdjoint(hbuf + 4 * h * wv, gMu1)
                    for i in 0..<(h * w) { d[i] += yp[i] * gMu1[i] }
                }
                if let dy {
                    let d = dy + p * h * w
                    horizontalAdjoint(hbuf + h * wv, gMu1)
                    for i in 0..<(h * w) { d[i] += gMu1[i] }
                    horizontalAdjoint(hbuf + 3 * h * wv, gMu1)
                    for i in 0..<(h * w) { d[i] += 2 * yp[i] * gMu1[i] }
                    horizontalAdjoint(hbuf + 4 * h * wv, gMu1)
                    for i in 0..<(h * w) { d[i] += xp[i] * gMu1[i] }
                }
            }
        }
        // Plane means combined in plane order: the same sum for any thread count.
        var total = 0.0
        for p in 0..<planes { total += Double(sums[p]) }
        return total / Double(planes)
    }

    /// out[r, c] = Σₖ g[k]·src[r, c + k], out is [h, wv].
    private func horizontal(_ src: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
        Self.window.withUnsafeBufferPointer { g in
            for r in 0..<h {
                let s = src + r * w, o = out + r * wv
                o.update(repeating: 0, count: wv)
                for k in 0..<Self.size { let gk = g[k], sk = s + k; for c in 0..<wv { o[c] += gk * sk[c] } }
            }
        }
    }

    /// out[r, c] = Σₖ g[k]·src[r + k, c], src [h, wv] → out [hv, wv].
    private func vertical(_ src: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
        Self.window.withUnsafeBufferPointer { g in
            for r in 0..<hv {
                let o = out + r * wv
                o.update(repeating: 0, count: wv)
                for k in 0..<Self.size { let gk = g[k], s = src + (r + k) * wv; for c in 0..<wv { o[c] += gk * s[c] } }
            }
        }
    }

    /// Adjoint of `vertical`: out [h, wv] = Σ scatter of src [hv, wv].
    private func verticalAdjoint(_ src: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
        out.update(repeating: 0, count: h * wv)
        Self.window.withUnsafeBufferPointer { g in
            for r in 0..<hv {
                let s = src + r * wv
                for k in 0..<Self.size { let gk = g[k], o = out + (r + k) * wv; for c in 0..<wv { o[c] += gk * s[c] } }
            }
        }
    }

    /// Adjoint of `horizontal`: out [h, w] from src [h, wv].
    private func horizontalAdjoint(_ src: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
        out.update(repeating: 0, count: h * w)
        Self.window.withUnsafeBufferPointer { g in
            for r in 0..<h {
                let s = src + r * wv, o = out + r * w
                for k in 0..<Self.size { let gk = g[k], ok = o + k; for c in 0..<wv { ok[c] += gk * s[c] } }
            }
        }
    }
}
