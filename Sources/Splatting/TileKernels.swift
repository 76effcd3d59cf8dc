import Tensors

/// The per-tile blending loops, forward and backward. A tile is 16×16 pixels and a tile row is
/// one SIMD16 vector (one AVX-512 register), so each Gaussian is evaluated a whole row at a
/// time, only on the rows of its pixel box. Per pixel, the Gaussians still blend strictly in the
/// tile list's depth order, exactly as a per-pixel loop would.
typealias Row = SIMD16<Float>
typealias RowMask = SIMDMask<SIMD16<Int32>>

/// exp(−s) for s ≥ 0 (a negative s, from rounding, counts as 0): Tensors' one vector exp, so
/// the rasterizer shares every other kernel's numerics (the scalar libm call would be its
/// bottleneck).
@_transparent func expNegative(_ s: Row) -> Row {
    // Vector–vector compare and select: generic clamps compile to lane loops.
    VectorMath.exp(-s.replacing(with: Row(), where: s .< Row()))
}

/// Shared layout facts of one rasterizer call.
struct RasterGeometry {
    var width: Int, height: Int, tilesX: Int, tilesY: Int, channels: Int, gaussians: Int, views: Int
    var tilesPerImage: Int { tilesX * tilesY }
    var pixels: Int { width * height }
}

/// Per (image, Gaussian) record the kernels read: mean x, y; conic a, b, c; opacity; depth; spare.
let recordStride = 8
/// Per-instance partial gradient: mean x, y; conic a, b, c; opacity; colour r, g, b; depth.
let partialStride = 10

enum TileKernels {
    static let laneIndex = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)

    @inline(__always) static func loadRow(_ p: UnsafePointer<Float>, lanes: Int) -> Row {
        if lanes == 16 { return UnsafeRawPointer(p).loadUnaligned(as: Row.self) }
        var r = Row.zero
        for l in 0..<lanes { r[l] = p[l] }
        return r
    }

    @inline(__always) static func storeRow(_ v: Row, _ p: UnsafeMutablePointer<Float>, lanes: Int) {
        if lanes == 16 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Row.self); return }
        for l in 0..<lanes { p[l] = v[l] }
    }

    /// Blends one tile front to back; writes colour, alpha (and expected depth), the final
    /// transmittance and, per pixel, one past the list position of its last blended Gaussian.
    static func forward(image: Int, tile: Int, geometry g: RasterGeometry, sampleOfImage b: Int,
                        tileRanges: UnsafePointer<Int>, list: UnsafePointer<Int32>,
                        records: UnsafePointer<Float>, boxes: UnsafePointer<Int32>, colors: UnsafePointer<Float>,
                        background: SIMD3<Float>, out: UnsafeMutablePointer<Float>,
                        finalT: UnsafeMutablePointer<Float>, last: UnsafeMutablePointer<Int32>) {
        let tx = tile % g.tilesX, ty = tile / g.tilesX
        let px0 = tx * 16, py0 = ty * 16
        let lanes = min(16, g.width - px0), rows = min(16, g.height - py0)
        let range = tileRanges[image * g.tilesPerImage + tile] ..< tileRanges[image * g.tilesPerImage + tile + 1]
        let columns = laneIndex &+ Int32(px0)
        let laneX = Row(columns) + 0.5
        let validLanes = laneIndex .< SIMD16<Int32>(repeating: Int32(lanes))
        let zeroLanes = SIMD16<Int32>()
        withUnsafeTemporaryAllocation(of: Row.self, capacity: 5 * 16) { rowState in
            withUnsafeTemporaryAllocation(of: SIMD16<Int32>.self, capacity: 2 * 16) { intState in
                let T = rowState.baseAddress!, cr = T + 16, cg = T + 32, cb = T + 48, cd = T + 64
                let active = intState.baseAddress!, lastRow = active + 16
                for r in 0..<16 {
                    T[r] = Row(repeating: 1); cr[r] = .zero; cg[r] = .zero; cb[r] = .zero; cd[r] = .zero
                    active[r] = r < rows ? unsafeBitCast(validLanes, to: SIMD16<Int32>.self) : SIMD16<Int32>()
                    lastRow[r] = SIMD16<Int32>(repeating: Int32(range.lowerBound))
                }
                var remaining = lanes * rows
                let imageBase = image * g.gaussians
                for k in range {
                    if remaining == 0 { break }
                    let n = Int(list[k])
                    let rec = records + (imageBase + n) * recordStride
                    let box = boxes + (imageBase + n) * 4
                    let mx = rec[0], my = rec[1], ca = rec[2], cbk = rec[3], cc = rec[4], o = rec[5], z = rec[6]
                    let col = colors + (b * g.gaussians + n) * 4
                    let r0 = max(Int(box[2]) - py0, 0), r1 = min(Int(box[3]) - py0, rows - 1)
                    let inBox = (columns .>= SIMD16<Int32>(repeating: box[0])) .& (columns .<= SIMD16<Int32>(repeating: box[1]))
                    let dx = laneX - mx
                    let p = 0.5 * ca * dx * dx, q = cbk * dx
                    let red = col[0], green = col[1], blue = col[2]
                    let kNext = SIMD16<Int32>(repeating: Int32(k + 1))
                    if r0 > r1 { continue }
                    for r in r0...r1 {
                        let mask = inBox .& (active[r] .!= zeroLanes)
                        if !any(mask) { continue }
                        let dy = Float(py0 + r) + 0.5 - my
                        let sigma = p + q * dy + 0.5 * cc * dy * dy
                        let raw = o * expNegative(sigma)
                        let alpha = raw.replacing(with: SplatConstants.maxAlpha, where: raw .> SplatConstants.maxAlpha)
                        let accept = mask .& (alpha .>= SplatConstants.minAlpha) .& (sigma .>= 0)
                        if !any(accept) { continue }
                        let t = T[r]
                        let nextT = t * (1 - alpha)
                        let stop = accept .& (nextT .<= SplatConstants.minTransmittance)
                        let blend = accept .& .!stop
                        let w = (alpha * t).replacing(with: 0, where: .!blend)
                        cr[r] += w * red; cg[r] += w * green; cb[r] += w * blue; cd[r] += w * z
                        T[r] = t.replacing(with: nextT, where: blend)
                        // Integer selects as bit operations (the generic Int32 select compiles to a lane loop).
                        let blendBits = unsafeBitCast(blend, to: SIMD16<Int32>.self)
                        lastRow[r] = (lastRow[r] & ~blendBits) | (kNext & blendBits)
                        if any(stop) {
                            let stopBits = unsafeBitCast(stop, to: SIMD16<Int32>.self)
                            active[r] &= ~stopBits
                            remaining += Int(stopBits.wrappedSum())  // lanes are −1 where stopping
                        }
                    }
                }
                let plane = g.pixels
                let outBase = out + image * g.channels * plane
                for r in 0..<rows {
                    let pix = (py0 + r) * g.width + px0
                    let t = T[r]
                    storeRow(cr[r] + background.x * t, outBase + pix, lanes: lanes)
                    storeRow(cg[r] + background.y * t, outBase + plane + pix, lanes: lanes)
                    storeRow(cb[r] + background.z * t, outBase + 2 * plane + pix, lanes: lanes)
                    let a = 1 - t
                    storeRow(a, outBase + 3 * plane + pix, lanes: lanes)
                    if g.channels > 4 {
                        storeRow(cd[r] / a.replacing(with: 1e-10, where: a .< 1e-10), outBase + 4 * plane + pix, lanes: lanes)
                    }
                    storeRow(t, finalT + image * plane + pix, lanes: lanes)
                    for l in 0..<lanes { last[image * plane + pix + l] = lastRow[r][l] }
                }
            }
        }
    }

    /// Walks one tile's list back to front from the saved final transmittance and last
    /// positions, writing each list entry's gradient partial (reduced per Gaussian later, in a
    /// fixed order, so the result does not depend on scheduling).
    static func backward(image: Int, tile: Int, geometry g: RasterGeometry, sampleOfImage b: Int,
                         tileRanges: UnsafePointer<Int>, list: UnsafePointer<Int32>,
                         records: UnsafePointer<Float>, boxes: UnsafePointer<Int32>, colors: UnsafePointer<Float>,
                         background: SIMD3<Float>, out: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
                         finalT: UnsafePointer<Float>, last: UnsafePointer<Int32>,
                         emissionOf: UnsafePointer<Int32>, partials: UnsafeMutablePointer<Float>) {
        let tx = tile % g.tilesX, ty = tile / g.tilesX
        let px0 = tx * 16, py0 = ty * 16
        let lanes = min(16, g.width - px0), rows = min(16, g.height - py0)
        let range = tileRanges[image * g.tilesPerImage + tile] ..< tileRanges[image * g.tilesPerImage + tile + 1]
        if range.isEmpty { return }
        let columns = laneIndex &+ Int32(px0)
        let laneX = Row(columns) + 0.5
        let plane = g.pixels
        withUnsafeTemporaryAllocation(of: Row.self, capacity: 11 * 16) { rowState in
            withUnsafeTemporaryAllocation(of: SIMD16<Int32>.self, capacity: 16) { intState in
                let T = rowState.baseAddress!, sr = T + 16, sg = T + 32, sb = T + 48, sd = T + 64, tn = T + 80
                let gr = T + 96, gg = T + 112, gb = T + 128, ga = T + 144, gd = T + 160
                let lastRow = intState.baseAddress!
                var maxLast = range.lowerBound
                let outBase = out + image * g.channels * plane, gBase = gradOut + image * g.channels * plane
                for r in 0..<16 {
                    lastRow[r] = SIMD16<Int32>(repeating: Int32(range.lowerBound))
                    T[r] = .zero; tn[r] = .zero; sr[r] = .zero; sg[r] = .zero; sb[r] = .zero; sd[r] = .zero
                    gr[r] = .zero; gg[r] = .zero; gb[r] = .zero; ga[r] = .zero; gd[r] = .zero
                    if r >= rows { continue }
                    let pix = (py0 + r) * g.width + px0
                    let t = loadRow(finalT + image * plane + pix, lanes: lanes)
                    T[r] = t; tn[r] = t
                    sr[r] = background.x * t; sg[r] = background.y * t; sb[r] = background.z * t
                    gr[r] = loadRow(gBase + pix, lanes: lanes)
                    gg[r] = loadRow(gBase + plane + pix, lanes: lanes)
                    gb[r] = loadRow(gBase + 2 * plane + pix, lanes: lanes)
                    ga[r] = loadRow(gBase + 3 * plane + pix, lanes: lanes)
                    if g.channels > 4 {
                        // Expected depth E = D / max(A, 1e-10): dD = dE / A, dA −= dE · E / A.
                        let a = loadRow(outBase + 3 * plane + pix, lanes: lanes)
                        let e = loadRow(outBase + 4 * plane + pix, lanes: lanes)
                        let gE = loadRow(gBase + 4 * plane + pix, lanes: lanes)
                        let big = a .>= 1e-10
                        let aSafe = a.replacing(with: 1e-10, where: .!big)
                        gd[r] = gE / aSafe
                        ga[r] -= (gE * e / aSafe).replacing(with: 0, where: .!big)
                    }
                    for l in 0..<lanes {
                        let v = last[image * plane + pix + l]
                        lastRow[r][l] = v
                        maxLast = max(maxLast, Int(v))
                    }
                }
                for k in maxLast ..< range.upperBound {
                    (partials + Int(emissionOf[k]) * partialStride).update(repeating: 0, count: partialStride)
                }
                let imageBase = image * g.gaussians
                var k = maxLast - 1
                while k >= range.lowerBound {
                    defer { k -= 1 }
                    let n = Int(list[k])
                    let rec = records + (imageBase + n) * recordStride
                    let box = boxes + (imageBase + n) * 4
                    let mx = rec[0], my = rec[1], ca = rec[2], cbk = rec[3], cc = rec[4], o = rec[5], z = rec[6]
                    let col = colors + (b * g.gaussians + n) * 4
                    let red = col[0], green = col[1], blue = col[2]
                    let r0 = max(Int(box[2]) - py0, 0), r1 = min(Int(box[3]) - py0, rows - 1)
                    let inBox = (columns .>= SIMD16<Int32>(repeating: box[0])) .& (columns .<= SIMD16<Int32>(repeating: box[1]))
                    let dx = laneX - mx
                    let p = 0.5 * ca * dx * dx, q = cbk * dx
                    let kVec = SIMD16<Int32>(repeating: Int32(k))
                    var aMx = Row.zero, aMy = Row.zero, aA = Row.zero, aB = Row.zero, aC = Row.zero
                    var aO = Row.zero, aR = Row.zero, aG = Row.zero, aBl = Row.zero, aZ = Row.zero
                    if r0 <= r1 {
                        for r in r0...r1 {
                            let mask = inBox .& (kVec .< lastRow[r])
                            if !any(mask) { continue }
                            let dy = Float(py0 + r) + 0.5 - my
                            let sigma = p + q * dy + 0.5 * cc * dy * dy
                            let vis = expNegative(sigma)
                            let raw = o * vis
                            let alpha = raw.replacing(with: SplatConstants.maxAlpha, where: raw .> SplatConstants.maxAlpha)
                            let accept = mask .& (alpha .>= SplatConstants.minAlpha) .& (sigma .>= 0)
                            if !any(accept) { continue }
                            let invOneMinus = 1 / (1 - alpha)
                            let ti = T[r] * invOneMinus
                            let w = (alpha * ti).replacing(with: 0, where: .!accept)
                            let red_ = gr[r], green_ = gg[r], blue_ = gb[r], depth_ = gd[r]
                            aR += w * red_; aG += w * green_; aBl += w * blue_; aZ += w * depth_
                            var vAlpha = (red * ti - sr[r] * invOneMinus) * red_
                            vAlpha += (green * ti - sg[r] * invOneMinus) * green_
                            vAlpha += (blue * ti - sb[r] * invOneMinus) * blue_
                            vAlpha += (z * ti - sd[r] * invOneMinus) * depth_
                            vAlpha += tn[r] * invOneMinus * ga[r]
                            sr[r] += w * red; sg[r] += w * green; sb[r] += w * blue; sd[r] += w * z
                            T[r] = T[r].replacing(with: ti, where: accept)
                            // Where min(0.99, ·) clamps, α no longer depends on opacity or σ.
                            vAlpha = vAlpha.replacing(with: 0, where: .!accept .| (raw .> SplatConstants.maxAlpha))
                            aO += vis * vAlpha
                            let vSigma = -raw * vAlpha
                            let ddx = ca * dx + cbk * dy, ddy = cbk * dx + cc * dy
                            aMx += vSigma * ddx; aMy += vSigma * ddy
                            aA += vSigma * 0.5 * dx * dx; aB += vSigma * dx * dy; aC += vSigma * (0.5 * dy * dy)
                        }
                    }
                    // Stored by emission index (Gaussian-major), so the per-Gaussian reduction reads contiguously.
                    let dst = partials + Int(emissionOf[k]) * partialStride
                    // σ depends on the mean through d = pixel − mean: dσ/dmean = −dσ/dd.
                    dst[0] = -aMx.sum(); dst[1] = -aMy.sum()
                    dst[2] = aA.sum(); dst[3] = aB.sum(); dst[4] = aC.sum()
                    dst[5] = aO.sum(); dst[6] = aR.sum(); dst[7] = aG.sum(); dst[8] = aBl.sum(); dst[9] = aZ.sum()
                }
            }
        }
    }
}
