/// Resizing [N, C, H, W] images: nearest-neighbour upsampling by an integer factor (diffusers'
/// Upsample2D) and bilinear resampling with PyTorch's align_corners=False convention.

extension Tensor {
    /// Each pixel repeated factor×factor times: [N, C, H·f, W·f].
    public func upsampledNearest(factor: Int) -> Tensor {
        check(rank == 4, "upsampledNearest needs [N, C, H, W], got \(shape)")
        check(factor >= 1, "upsampledNearest factor \(factor)")
        let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3])
        let (oh, ow) = (h * factor, w * factor)
        let out = Tensor(uninitializedShape: [shape[0], shape[1], oh, ow])
        let src = storage.base, dst = out.storage.base
        Parallel.forRanges(planes, grain: Swift.max(1, 32_768 / (oh * ow))) { range in
            for p in range {
                let s = src + p * h * w, d = dst + p * oh * ow
                for y in 0..<h {
                    let row = d + y * factor * ow, sr = s + y * w
                    for x in 0..<w { let v = sr[x]; for f in 0..<factor { row[x * factor + f] = v } }
                    for r in 1..<Swift.max(factor, 1) { (row + r * ow).update(from: row, count: ow) }
                }
            }
        }
        let source = self
        return out.recorded(source) { g in
            guard let ga = Tape.shared.gradientBuffer(source.gradSlot) else { return }
            Parallel.forRanges(planes, grain: Swift.max(1, 32_768 / (oh * ow))) { range in
                for p in range {
                    let gs = g + p * oh * ow, d = ga + p * h * w
                    for y in 0..<h { for x in 0..<w {
                        var total: Float = 0
                        for r in 0..<factor { for f in 0..<factor { total += gs[(y * factor + r) * ow + x * factor + f] } }
                        d[y * w + x] += total
                    } }
                }
            }
        }
    }

    /// Bilinear resampling to height×width, as `F.interpolate(mode="bilinear", align_corners=False)`
    /// (source coordinate (i + ½)·in/out − ½, clamped at 0).
    public func resizedBilinear(height: Int, width: Int) -> Tensor {
        check(rank == 4, "resizedBilinear needs [N, C, H, W], got \(shape)")
        check(height > 0 && width > 0, "resizedBilinear to \(height)×\(width)")
        let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3])
        let ys = BilinearTaps(input: h, output: height), xs = BilinearTaps(input: w, output: width)
        let out = Tensor(uninitializedShape: [shape[0], shape[1], height, width])
        let src = storage.base, dst = out.storage.base
        Parallel.forRanges(planes, grain: Swift.max(1, 8192 / (height * width))) { range in
            for p in range {
                let s = src + p * h * w, d = dst + p * height * width
                for oy in 0..<height {
                    let r0 = s + ys.i0[oy] * w, r1 = s + ys.i1[oy] * w, wy0 = ys.w0[oy], wy1 = ys.w1[oy]
                    let row = d + oy * width
                    for ox in 0..<width {
                        let a = xs.i0[ox], b = xs.i1[ox], wx0 = xs.w0[ox], wx1 = xs.w1[ox]
                        row[ox] = wy0 * (wx0 * r0[a] + wx1 * r0[b]) + wy1 * (wx0 * r1[a] + wx1 * r1[b])
                    }
                }
            }
        }
        let source = self
        return out.recorded(source) { g in
            guard let ga = Tape.shared.gradientBuffer(source.gradSlot) else { return }
            // Scatter per plane on one thread each: a fixed order for every target pixel.
            Parallel.forRanges(planes, grain: Swift.max(1, 8192 / (height * width))) { range in
                for p in range {
                    let gs = g + p * height * width, d = ga + p * h * w
                    for oy in 0..<height {
                        let r0 = d + ys.i0[oy] * w, r1 = d + ys.i1[oy] * w, wy0 = ys.w0[oy], wy1 = ys.w1[oy]
                        let row = gs + oy * width
                        for ox in 0..<width {
                            let a = xs.i0[ox], b = xs.i1[ox], v = row[ox]
                            r0[a] += wy0 * xs.w0[ox] * v; r0[b] += wy0 * xs.w1[ox] * v
                            r1[a] += wy1 * xs.w0[ox] * v; r1[b] += wy1 * xs.w1[ox] * v
                        }
                    }
                }
            }
        }
    }
}

/// The two source indices and weights of each output position along one axis.
struct BilinearTaps {
    var i0: [Int], i1: [Int], w0: [Float], w1: [Float]

    init(input: Int, output: Int) {
        let scale = Float(input) / Float(output)
        i0 = []; i1 = []; w0 = []; w1 = []
        for o in 0..<output {
            let src = Swift.max(scale * (Float(o) + 0.5) - 0.5, 0)
            let lo = Swift.min(Int(src), input - 1)
            let lambda = src - Float(lo)
            i0.append(lo); i1.append(lo < input - 1 ? lo + 1 : lo)
            w0.append(1 - lambda); w1.append(lambda)
        }
    }
}
