/// 2-D pooling over [N, C, H, W] with square windows and no padding, output size floored as
/// PyTorch's `max_pool2d` / `avg_pool2d` (ceil_mode=False): Ho = (H − kernel)/stride + 1, so
/// trailing rows and columns that do not fill a window are dropped.
///
/// Both split over planes (N·C): with overlapping windows (stride < kernel) several outputs
/// feed one input, and a plane's backward on one thread adds them in a fixed order.

/// Max over each window. The gradient goes to the window's first maximum in row-major order
/// (one winner per window, so ties never split the gradient and results are deterministic);
/// NaN wins over numbers, so a non-finite input still shows in the output.
public func maxPool2d(_ x: Tensor, kernel: Int = 2, stride: Int = 2) -> Tensor {
    let geo = PoolGeometry(x, kernel: kernel, stride: stride, name: "maxPool2d")
    let out = Tensor(uninitializedShape: geo.outputShape)
    // Winners (offsets within the input plane) are kept only when a backward will need them.
    let winners: TensorIndexBuffer? = x.isTracked ? TensorIndexBuffer(count: out.count) : nil
    let src = x.storage.base, dst = out.storage.base, arg = winners?.base
    Parallel.forRanges(geo.planes, grain: geo.grain) { range in
        for p in range {
            let s = src + p * geo.h * geo.w, d = dst + p * geo.ho * geo.wo
            for oy in 0..<geo.ho { for ox in 0..<geo.wo {
                var at = oy * stride * geo.w + ox * stride
                var best = s[at]
                for i in 0..<kernel { for j in 0..<kernel {
                    let k = (oy * stride + i) * geo.w + ox * stride + j, v = s[k]
                    // Strictly greater keeps the first maximum; a first NaN is never replaced.
                    if v > best || (v != v && best == best) { best = v; at = k }
                } }
                d[oy * geo.wo + ox] = best
                arg?[p * geo.ho * geo.wo + oy * geo.wo + ox] = Int32(at)
            } }
        }
    }
    return out.recorded(x) { g in
        guard let ga = Tape.shared.gradientBuffer(x.gradSlot), let arg = winners?.base else { return }
        Parallel.forRanges(geo.planes, grain: geo.grain) { range in
            for p in range {
                let d = ga + p * geo.h * geo.w, o = p * geo.ho * geo.wo
                for i in 0..<(geo.ho * geo.wo) { d[Int(arg[o + i])] += g[o + i] }
            }
        }
    }
}

/// Mean over each window (every window is full: no padding, so the divisor is kernel²).
public func avgPool2d(_ x: Tensor, kernel: Int = 2, stride: Int = 2) -> Tensor {
    let geo = PoolGeometry(x, kernel: kernel, stride: stride, name: "avgPool2d")
    let out = Tensor(uninitializedShape: geo.outputShape)
    let scale = 1 / Float(kernel * kernel)
    let src = x.storage.base, dst = out.storage.base
    Parallel.forRanges(geo.planes, grain: geo.grain) { range in
        for p in range {
            let s = src + p * geo.h * geo.w, d = dst + p * geo.ho * geo.wo
            for oy in 0..<geo.ho { for ox in 0..<geo.wo {
                var total: Float = 0
                for i in 0..<kernel {
                    let row = s + (oy * stride + i) * geo.w + ox * stride
                    for j in 0..<kernel { total += row[j] }
                }
                d[oy * geo.wo + ox] = total * scale
            } }
        }
    }
    return out.recorded(x) { g in
        guard let ga = Tape.shared.gradientBuffer(x.gradSlot) else { return }
        Parallel.forRanges(geo.planes, grain: geo.grain) { range in
            for p in range {
                let d = ga + p * geo.h * geo.w, gs = g + p * geo.ho * geo.wo
                for oy in 0..<geo.ho { for ox in 0..<geo.wo {
                    let v = gs[oy * geo.wo + ox] * scale
                    for i in 0..<kernel {
                        let row = d + (oy * stride + i) * geo.w + ox * stride
                        for j in 0..<kernel { row[j] += v }
                    }
                } }
            }
        }
    }
}

struct PoolGeometry {
    let n, c, h, w, ho, wo: Int
    var planes: Int { n * c }
    var outputShape: [Int] { [n, c, ho, wo] }
    /// Planes per thread so that each piece reads about 32 K floats.
    var grain: Int { Swift.max(1, 32_768 / Swift.max(1, h * w)) }

    init(_ x: Tensor, kernel: Int, stride: Int, name: String) {
        check(x.rank == 4, "\(name) needs [N, C, H, W], got \(x.shape)")
        check(kernel >= 1 && stride >= 1, "\(name) kernel \(kernel) stride \(stride)")
        check(x.shape[2] >= kernel && x.shape[3] >= kernel, "\(name): kernel \(kernel) does not fit input \(x.shape)")
        (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        (ho, wo) = ((h - kernel) / stride + 1, (w - kernel) / stride + 1)
    }
}

/// Int32 scratch that lives as long as the backward closure capturing it.
final class TensorIndexBuffer {
    let base: UnsafeMutablePointer<Int32>
    init(count: Int) { base = .allocate(capacity: Swift.max(count, 1)) }
    deinit { base.deallocate() }
}
