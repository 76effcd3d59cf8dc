/// 2-D convolution (cross-correlation, as `torch.nn.functional.conv2d`) by im2col + sgemm;
/// 3×3 stride-1 convolutions of ≥ 16 channels go to Winograd F(2×2, 3×3) (`WinogradConv3x3`).
///
/// Per sample: columns [Cin·kh·kw, Ho·Wo] = im2col(x), out = W[Cout, Cin·kh·kw]·columns.
/// 1×1 stride-1 unpadded convolutions skip im2col (the input already is the column matrix);
/// stride-1 rows (3×3 with padding 1, the common case) are copied as contiguous runs.
/// Backward: dW += dOut·columnsᵀ (columns recomputed), dX += col2im(Wᵀ·dOut), db += Σ dOut.
/// col2im splits over input channels, which own disjoint outputs: deterministic.

/// x [N, Cin, H, W], weight [Cout, Cin, kh, kw], bias [Cout] → [N, Cout, Ho, Wo].
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) -> Tensor {
    conv2d(x, weight: weight, bias: bias, stride: (stride, stride), padding: (padding, padding))
}

public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: (Int, Int), padding: (Int, Int)) -> Tensor {
    conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding, algorithm: .automatic)
}

/// How a convolution is computed; `automatic` takes Winograd F(2×2, 3×3) where it applies.
enum ConvAlgorithm { case automatic, im2col, winograd }

func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: (Int, Int), padding: (Int, Int),
            algorithm: ConvAlgorithm) -> Tensor {
    check(x.rank == 4, "conv2d input must be [N, C, H, W], got \(x.shape)")
    check(weight.rank == 4 && weight.shape[1] == x.shape[1],
          "conv2d weight \(weight.shape) does not match input channels of \(x.shape)")
    if let bias { check(bias.count == weight.shape[0], "conv2d bias \(bias.shape) for \(weight.shape[0]) output channels") }
    check(stride.0 > 0 && stride.1 > 0 && padding.0 >= 0 && padding.1 >= 0, "conv2d stride \(stride) padding \(padding)")
    let geo = ConvGeometry(n: x.shape[0], cin: x.shape[1], h: x.shape[2], w: x.shape[3], cout: weight.shape[0],
                           kh: weight.shape[2], kw: weight.shape[3], sh: stride.0, sw: stride.1, ph: padding.0, pw: padding.1)
    check(geo.ho > 0 && geo.wo > 0, "conv2d: kernel \(weight.shape) does not fit input \(x.shape) with padding \(padding)")
    let winograd: WinogradConv3x3?
    switch algorithm {
    case .automatic: winograd = WinogradConv3x3.applies(geo) ? WinogradConv3x3(geo) : nil
    case .im2col: winograd = nil
    case .winograd:
        check(WinogradConv3x3.fits(geo), "conv2d: Winograd F(2×2, 3×3) needs a 3×3 stride-1 kernel, padding ≤ 2")
        winograd = WinogradConv3x3(geo)
    }

    let out = Tensor(uninitializedShape: [geo.n, geo.cout, geo.ho, geo.wo])
    // Winograd's transformed filters, kept for the backward (which reads them as dX's filters).
    let filters = winograd?.filters(weight.storage.base)
    if let winograd, let filters {
        winograd.forward(x.storage.base, filters: filters, bias: bias?.storage.base, out: out.storage.base)
    } else {
        geo.forward(x.storage.base, weight.storage.base, bias?.storage.base, out: out.storage.base)
    }
    let inputs = [x, weight] + (bias.map { [$0] } ?? [])
    return out.recorded(anyTracked: inputs.contains { $0.isTracked }) { g in
        let tape = Tape.shared
        let dx = tape.gradientBuffer(x.gradSlot), dw = tape.gradientBuffer(weight.gradSlot)
        let db = bias.flatMap { tape.gradientBuffer($0.gradSlot) }
        if let winograd, let filters {
            winograd.backward(g, x.storage.base, filters: filters, dx: dx, dw: dw)
            if let db { geo.accumulateBiasGradient(g, into: db) }
        } else {
            geo.backward(g, x.storage.base, weight.storage.base, dx: dx, dw: dw, db: db)
        }
    }
}

struct ConvGeometry {
    let n, cin, h, w, cout, kh, kw, sh, sw, ph, pw: Int
    var ho: Int { (h + 2 * ph - kh) / sh + 1 }
    var wo: Int { (w + 2 * pw - kw) / sw + 1 }
    /// Rows of the column matrix and its columns (output pixels).
    var k: Int { cin * kh * kw }
    var l: Int { ho * wo }
    var isPointwise: Bool { kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0 }

    func forward(_ x: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                 out: UnsafeMutablePointer<Float>) {
        let columns = isPointwise ? nil : Tensor(uninitializedShape: [k, l])
        for s in 0..<n {
            let xs = x + s * cin * h * w, os = out + s * cout * l
            var b: UnsafePointer<Float> = xs
            if let columns { im2col(xs, columns.storage.base); b = UnsafePointer(columns.storage.base) }
            BLAS.sgemm(transA: false, transB: false, m: cout, n: l, k: k, a: weight, lda: k, b: b, ldb: l,
                       beta: 0, c: os, ldc: l)
        }
        if let bias {
            let l = l, cout = cout
            Parallel.forRanges(n * cout, grain: max(1, 32_768 / l)) { range in
                for plane in range {
                    let bv = bias[plane % cout], p = out + plane * l
                    for i in 0..<l { p[i] += bv }
                }
            }
        }
    }

    func backward(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                  dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>?, db: UnsafeMutablePointer<Float>?) {
        let columns = isPointwise || (dx == nil && dw == nil) ? nil : Tensor(uninitializedShape: [k, l])
        for s in 0..<n {
            let xs = x + s * cin * h * w, gs = g + s * cout * l
            if let dw {  // dW[cout, K] += dOut[cout, L]·colsᵀ
                var b: UnsafePointer<Float> = xs
                if let columns { im2col(xs, columns.storage.base); b = UnsafePointer(columns.storage.base) }
                BLAS.sgemm(transA: false, transB: true, m: cout, n: k, k: l, a: gs, lda: l, b: b, ldb: l,
                           beta: 1, c: dw, ldc: k)
            }
            if let dx {  // dcols[K, L] = Wᵀ·dOut, folded back onto the image
                let dxs = dx + s * cin * h * w
                if let columns {
                    BLAS.sgemm(transA: true, transB: false, m: k, n: l, k: cout, a: weight, lda: k, b: gs, ldb: l,
                               beta: 0, c: columns.storage.base, ldc: l)
                    col2im(columns.storage.base, dxs)
                } else {
                    BLAS.sgemm(transA: true, transB: false, m: k, n: l, k: cout, a: weight, lda: k, b: gs, ldb: l,
                               beta: 1, c: dxs, ldc: l)
                }
            }
        }
        if let db { accumulateBiasGradient(g, into: db) }
    }

    /// db[c] += Σ dOut over samples and pixels of channel c.
    func accumulateBiasGradient(_ g: UnsafePointer<Float>, into db: UnsafeMutablePointer<Float>) {
        let l = l, cout = cout, n = n
        Parallel.forRanges(cout, grain: max(1, 32_768 / (n * l))) { channels in
            for c in channels {
                var total: Float = 0
                for s in 0..<n { total += simdSum(g + (s * cout + c) * l, l) }
                db[c] += total
            }
        }
    }

    /// Output columns ox whose input column ox·sw − pw + j lies inside 0..<w.
    @inline(__always)
    func validColumns(_ j: Int) -> Range<Int> {
        let lo = max(0, (pw - j + sw - 1) / sw)
        let last = w - 1 + pw - j  // ox·sw ≤ last
        let hi = last < 0 ? 0 : min(wo, last / sw + 1)
        return lo..<max(lo, hi)
    }

    /// cols[(c·kh + i)·kw + j, oy·wo + ox] = x[c, oy·sh − ph + i, ox·sw − pw + j] (0 outside).
    func im2col(_ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>) {
        let rows = k, l = l
        Parallel.forRanges(rows, grain: max(1, 32_768 / l)) { range in
            for row in range {
                let c = row / (kh * kw), i = row / kw % kh, j = row % kw
                let xc = x + c * h * w, dst = cols + row * l
                let valid = validColumns(j)
                for oy in 0..<ho {
                    let iy = oy * sh - ph + i, d = dst + oy * wo
                    guard iy >= 0 && iy < h, !valid.isEmpty else { d.update(repeating: 0, count: wo); continue }
                    d.update(repeating: 0, count: valid.lowerBound)
                    let src = xc + iy * w - pw + j
                    if sw == 1 {
                        (d + valid.lowerBound).update(from: src + valid.lowerBound, count: valid.count)
                    } else {
                        for ox in valid { d[ox] = src[ox * sw] }
                    }
                    (d + valid.upperBound).update(repeating: 0, count: wo - valid.upperBound)
                }
            }
        }
    }

    /// dx[c, iy, ix] += Σ cols over the kernel taps that read it (adjoint of im2col).
    func col2im(_ cols: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>) {
        let l = l
        Parallel.forRanges(cin, grain: max(1, 32_768 / (kh * kw * l))) { channels in
            for c in channels {
                let dxc = dx + c * h * w
                for i in 0..<kh { for j in 0..<kw {
                    let src = cols + ((c * kh + i) * kw + j) * l
                    let valid = validColumns(j)
                    if valid.isEmpty { continue }
                    for oy in 0..<ho {
                        let iy = oy * sh - ph + i
                        guard iy >= 0 && iy < h else { continue }
                        let d = dxc + iy * w - pw + j, s = src + oy * wo
                        if sw == 1 {
                            for ox in valid { d[ox] += s[ox] }
                        } else {
                            for ox in valid { d[ox * sw] += s[ox] }
                        }
                    }
                } }
            }
        }
    }
}
