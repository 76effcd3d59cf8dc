import Tensors

/// Rendered views of a batch of Gaussian scenes. `packed` is the op's output; the others are
/// channel slices of it, so gradients from any of them reach the one rasterizer backward.
public struct SplatImages {
    /// [B, V, C, H, W] with channels r, g, b, alpha and, when requested, expected depth.
    public let packed: Tensor
    /// [B, V, 3, H, W], composited on the background.
    public let rgb: Tensor
    /// [B, V, 1, H, W]: 1 − final transmittance.
    public let alpha: Tensor
    /// [B, V, 1, H, W]: Σ z·α·T / max(alpha, 1e-10), camera-space z; nil unless requested.
    public let depth: Tensor?
}

/// Where the time of the last `render` call went (seconds), for `relief-bench splat`.
public struct SplatTimings: Sendable {
    public var projection = 0.0, binning = 0.0, forward = 0.0, backward = 0.0
    /// (tile, Gaussian) pairs in the tile lists.
    public var instances = 0
    public init() {}
}

/// The differentiable tiled Gaussian rasterizer (gsplat's classic algorithm; constants in
/// `SplatConstants`), as one autodiff op over a batch of scenes and views.
///
/// Differences from gsplat, both deliberate: a Gaussian's footprint is the box where α can reach
/// 1/255 (gsplat truncates at whole tiles of a 3σ square), so the result equals an untruncated
/// per-pixel loop and does not depend on the tiling; and the gradient where α is clamped at 0.99
/// is exactly zero.
public enum GaussianRasterizer {
    nonisolated(unsafe) public static var lastTimings = SplatTimings()

    /// Renders B scenes of N Gaussians each into V views per scene.
    /// - Parameters:
    ///   - means: [B, N, 3] world positions.
    ///   - quaternions: [B, N, 4] rotations (w, x, y, z), normalised inside (zero → identity).
    ///   - logScales: [B, N, 3] log standard deviations along the rotated axes.
    ///   - opacityLogits: [B, N] or [B, N, 1]; opacity = sigmoid.
    ///   - shDC: [B, N, 3] degree-0 SH; colour = max(0, 0.28209479·f + 0.5).
    ///   - cameras: B lists of V cameras, all of one image size.
    ///   - background: colour behind the scene (constant).
    ///   - withDepth: adds the expected-depth channel.
    public static func render(means: Tensor, quaternions: Tensor, logScales: Tensor, opacityLogits: Tensor,
                              shDC: Tensor, cameras: [[Camera]], background: SIMD3<Float> = [1, 1, 1],
                              withDepth: Bool = false) -> SplatImages {
        check(means.rank == 3 && means.shape[2] == 3, "means must be [B, N, 3], got \(means.shape)")
        let bCount = means.shape[0], nCount = means.shape[1]
        check(quaternions.shape == [bCount, nCount, 4], "quaternions must be [B, N, 4], got \(quaternions.shape)")
        check(logScales.shape == [bCount, nCount, 3], "logScales must be [B, N, 3], got \(logScales.shape)")
        check(opacityLogits.shape == [bCount, nCount] || opacityLogits.shape == [bCount, nCount, 1],
              "opacityLogits must be [B, N] or [B, N, 1], got \(opacityLogits.shape)")
        check(shDC.shape == [bCount, nCount, 3], "shDC must be [B, N, 3], got \(shDC.shape)")
        check(cameras.count == bCount && bCount > 0, "need one camera list per sample (\(bCount)), got \(cameras.count)")
        let vCount = cameras[0].count
        check(vCount > 0 && cameras.allSatisfy { $0.count == vCount }, "every sample needs the same number of views")
        let width = cameras[0][0].width, height = cameras[0][0].height
        check(cameras.allSatisfy { $0.allSatisfy { $0.width == width && $0.height == height } },
              "all views must share one image size")

        let ts = SplatConstants.tileSize
        let geo = RasterGeometry(width: width, height: height, tilesX: (width + ts - 1) / ts, tilesY: (height + ts - 1) / ts,
                                 channels: withDepth ? 5 : 4, gaussians: nCount, views: vCount)
        let images = bCount * vCount, tiles = geo.tilesPerImage
        let viewList = cameras.flatMap { $0.map(ViewParameters.init) }
        // A plain buffer: a captured array would be retained and released per access across threads.
        let viewBuffer = ScratchBuffer<ViewParameters>(viewList.count)
        viewBuffer.base.initialize(from: viewList, count: viewList.count)
        let views = viewBuffer.base
        var timings = SplatTimings()
        var clock = Clock.now

        // View-independent activation, once per Gaussian.
        let act = ScratchBuffer<ProjectionInput>(bCount * nCount)
        let colors = ScratchBuffer<Float>(bCount * nCount * 4)
        let (pm, pq, ps, po, pc) = (means.storage.base, quaternions.storage.base, logScales.storage.base,
                                    opacityLogits.storage.base, shDC.storage.base)
        Parallel.forRanges(bCount * nCount, grain: 2048) { range in
            for j in range {
                let a = ActivatedGaussian(mean: pm + 3 * j, quaternion: pq + 4 * j, logScale: ps + 3 * j,
                                          opacityLogit: po[j], sh: pc + 3 * j)
                (act.base + j).initialize(to: ProjectionInput(a))
                for k in 0..<3 { colors.base[4 * j + k] = Float(a.color[k]) }
                colors.base[4 * j + 3] = 0
            }
        }

        // Projection of every Gaussian into every view of its sample.
        let records = ScratchBuffer<Float>(images * nCount * recordStride)
        let boxes = ScratchBuffer<Int32>(images * nCount * 4)
        let tileCounts = ScratchBuffer<Int32>(images * nCount)
        Parallel.forRanges(images * nCount, grain: 2048) { range in
            var trace = ProjectionTrace(tCam: .zero, u: 0, v: 0, xClamped: false, yClamped: false, j: (0, 0, 0, 0),
                                        covCam: .zero, cov2d: (0, 0, 0), conic: (0, 0, 0))
            for j in range {
                let i = j / nCount, n = j % nCount, b = i / vCount
                let a = act.base[b * nCount + n]
                guard let p = Projection.project(a, view: views[i], trace: &trace) else {
                    tileCounts.base[j] = 0
                    continue
                }
                let rec = records.base + j * recordStride
                rec[0] = Float(p.meanX); rec[1] = Float(p.meanY)
                rec[2] = Float(p.conicA); rec[3] = Float(p.conicB); rec[4] = Float(p.conicC)
                rec[5] = Float(a.opacity); rec[6] = Float(p.depth); rec[7] = 0
                let box = boxes.base + j * 4
                box[0] = Int32(p.x0); box[1] = Int32(p.x1); box[2] = Int32(p.y0); box[3] = Int32(p.y1)
                tileCounts.base[j] = Int32((p.x1 / ts - p.x0 / ts + 1) * (p.y1 / ts - p.y0 / ts + 1))
            }
        }
        timings.projection = Clock.seconds(since: clock); clock = Clock.now

        // Tile lists: image i's instances occupy imageBase[i] ..< imageBase[i + 1].
        var imageBase = [Int](repeating: 0, count: images + 1)
        for i in 0..<images {
            var total = 0
            for n in 0..<nCount { total += Int(tileCounts.base[i * nCount + n]) }
            imageBase[i + 1] = imageBase[i] + total
        }
        let instances = imageBase[images]
        let list = ScratchBuffer<Int32>(instances)
        let emissionOf = ScratchBuffer<Int32>(instances)  // sorted position → index in Gaussian-major order
        let emit = ScratchBuffer<Int>(images * nCount)
        let tileRanges = ScratchBuffer<Int>(images * tiles + 1)
        do {
            let keys = ScratchBuffer<UInt32>(images * nCount), keysTmp = ScratchBuffer<UInt32>(images * nCount)
            let order = ScratchBuffer<Int32>(images * nCount), orderTmp = ScratchBuffer<Int32>(images * nCount)
            imageBase.withUnsafeBufferPointer { imageBase in
                Parallel.forEach(images) { i in
                    let off = i * nCount
                    var visible = 0, e = imageBase[i]
                    for n in 0..<nCount {
                        emit.base[off + n] = e
                        let c = Int(tileCounts.base[off + n])
                        e += c
                        if c > 0 {
                            keys.base[off + visible] = records.base[(off + n) * recordStride + 6].bitPattern
                            order.base[off + visible] = Int32(n)
                            visible += 1
                        }
                    }
                    TileBinning.radixSort(keys: keys.base + off, values: order.base + off, count: visible,
                                          tmpKeys: keysTmp.base + off, tmpValues: orderTmp.base + off)
                    var cursor = [Int](repeating: 0, count: tiles)
                    cursor.withUnsafeMutableBufferPointer { cursor in
                        func forEachTile(_ n: Int, _ body: (Int) -> Void) {
                            let box = boxes.base + (off + n) * 4
                            for ty in Int(box[2]) / ts ... Int(box[3]) / ts {
                                for tx in Int(box[0]) / ts ... Int(box[1]) / ts { body(ty * geo.tilesX + tx) }
                            }
                        }
                        for s in 0..<visible { forEachTile(Int(order.base[off + s])) { cursor[$0] += 1 } }
                        var start = imageBase[i]
                        for t in 0..<tiles {
                            let c = cursor[t]
                            tileRanges.base[i * tiles + t] = start
                            cursor[t] = start
                            start += c
                        }
                        for s in 0..<visible {
                            let n = Int(order.base[off + s])
                            var k = emit.base[off + n]
                            forEachTile(n) { t in
                                let pos = cursor[t]
                                cursor[t] = pos + 1
                                list.base[pos] = Int32(n)
                                emissionOf.base[pos] = Int32(k)
                                k += 1
                            }
                        }
                    }
                }
            }
            tileRanges.base[images * tiles] = instances
        }
        timings.binning = Clock.seconds(since: clock); clock = Clock.now

        let out = Tensor(uninitializedShape: [bCount, vCount, geo.channels, height, width])
        let finalT = ScratchBuffer<Float>(images * geo.pixels)
        let last = ScratchBuffer<Int32>(images * geo.pixels)
        Parallel.forEach(images * tiles) { j in
            let i = j / tiles
            TileKernels.forward(image: i, tile: j % tiles, geometry: geo, sampleOfImage: i / vCount,
                                tileRanges: tileRanges.base, list: list.base, records: records.base, boxes: boxes.base,
                                colors: colors.base, background: background, out: out.storage.base,
                                finalT: finalT.base, last: last.base)
        }
        timings.forward = Clock.seconds(since: clock)
        timings.instances = instances
        lastTimings = timings

        let inputs = [means, quaternions, logScales, opacityLogits, shDC]
        let tracked = inputs.contains { $0.isTracked }
        let saved = out.detached
        let packed = out.recorded(anyTracked: tracked) { gradOut in
            let start = Clock.now
            let views = viewBuffer.base  // captures the buffer, keeping it alive until backward
            let slots = inputs.map { Tape.shared.gradientBuffer($0.gradSlot) }
            let partials = ScratchBuffer<Float>(instances * partialStride)
            Parallel.forEach(images * tiles) { j in
                let i = j / tiles
                TileKernels.backward(image: i, tile: j % tiles, geometry: geo, sampleOfImage: i / vCount,
                                     tileRanges: tileRanges.base, list: list.base, records: records.base,
                                     boxes: boxes.base, colors: colors.base, background: background,
                                     out: saved.storage.base, gradOut: gradOut, finalT: finalT.base, last: last.base,
                                     emissionOf: emissionOf.base, partials: partials.base)
            }
            // Per Gaussian: its instances in emission order, views in order — a fixed reduction.
            Parallel.forRanges(bCount * nCount, grain: 512) { range in
                var trace = ProjectionTrace(tCam: .zero, u: 0, v: 0, xClamped: false, yClamped: false, j: (0, 0, 0, 0),
                                            covCam: .zero, cov2d: (0, 0, 0), conic: (0, 0, 0))
                for j in range {
                    let b = j / nCount, n = j % nCount
                    let a = ActivatedGaussian(mean: pm + 3 * j, quaternion: pq + 4 * j, logScale: ps + 3 * j,
                                              opacityLogit: po[j], sh: pc + 3 * j)
                    let input = act.base[j]
                    var vMean = SIMD3<Double>.zero, vCov = Mat3.zero, vOpacity = 0.0, vColor = SIMD3<Double>.zero
                    for v in 0..<vCount {
                        let ij = (b * vCount + v) * nCount + n
                        let count = Int(tileCounts.base[ij])
                        if count == 0 { continue }
                        var s = SIMD8<Double>.zero, s8 = 0.0, s9 = 0.0
                        let e0 = emit.base[ij]
                        for e in e0 ..< e0 + count {
                            let p = partials.base + e * partialStride
                            s += SIMD8(Double(p[0]), Double(p[1]), Double(p[2]), Double(p[3]),
                                       Double(p[4]), Double(p[5]), Double(p[6]), Double(p[7]))
                            s8 += Double(p[8]); s9 += Double(p[9])
                        }
                        vOpacity += s[5]
                        vColor += SIMD3(s[6], s[7], s8)
                        guard Projection.project(input, view: views[b * vCount + v], trace: &trace) != nil else { continue }
                        Projection.backward(view: views[b * vCount + v], trace: trace, vMean2d: [s[0], s[1]],
                                            vConic: [s[2], s[3], s[4]], vDepth: s9, vMean: &vMean, vCov: &vCov)
                    }
                    if let gm = slots[0] { for k in 0..<3 { gm[3 * j + k] += Float(vMean[k]) } }
                    if slots[1] != nil || slots[2] != nil {
                        let (vq, vls) = Projection.covarianceBackward(a, vCov: vCov)
                        if let gq = slots[1] { for k in 0..<4 { gq[4 * j + k] += Float(vq[k]) } }
                        if let gs = slots[2] { for k in 0..<3 { gs[3 * j + k] += Float(vls[k]) } }
                    }
                    if let go = slots[3] { go[j] += Float(vOpacity * a.opacity * (1 - a.opacity)) }
                    if let gc = slots[4] {
                        for k in 0..<3 where a.color[k] > 0 { gc[3 * j + k] += Float(SplatConstants.shC0 * vColor[k]) }
                    }
                }
            }
            GaussianRasterizer.lastTimings.backward = Clock.seconds(since: start)
        }
        return SplatImages(packed: packed, rgb: sliceChannels(packed, 0..<3), alpha: sliceChannels(packed, 3..<4),
                           depth: withDepth ? sliceChannels(packed, 4..<5) : nil)
    }
}

/// Channels `range` of a [B, V, C, H, W] tensor. TODO: replace with the Tensors slice op.
func sliceChannels(_ x: Tensor, _ range: Range<Int>) -> Tensor {
    let s = x.shape
    let outer = s[0] * s[1], c = s[2], plane = s[3] * s[4]
    let out = Tensor(uninitializedShape: [s[0], s[1], range.count, s[3], s[4]])
    let src = x.storage.base, dst = out.storage.base
    for o in 0..<outer {
        (dst + o * range.count * plane).update(from: src + (o * c + range.lowerBound) * plane, count: range.count * plane)
    }
    return out.recorded(x) { g in
        guard let gx = Tape.shared.gradientBuffer(x.gradSlot) else { return }
        for o in 0..<outer {
            let a = gx + (o * c + range.lowerBound) * plane, b = g + o * range.count * plane
            for k in 0..<range.count * plane { a[k] += b[k] }
        }
    }
}
