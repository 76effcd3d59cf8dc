/// 3×3 stride-1 convolution by Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, "Fast
/// Algorithms for Convolutional Neural Networks", 2016).
///
/// A 4×4 input tile d and a filter g give a 2×2 output tile Aᵀ[(G g Gᵀ) ∘ (Bᵀ d B)]A: 16
/// multiplies instead of 36. Across channels the 16 element-wise products become 16 GEMMs
/// M[e] = U[e]·V[e] (U[e]: [Cout, Cin] transformed filters, V[e]: [Cin, tiles] transformed
/// inputs), 2.25× fewer FLOPs than im2col's single GEMM. The transforms only add and halve, so
/// results stay within a few ulps of the direct sum.
///
/// Backward is each linear stage transposed: dM = A dY Aᵀ, dU[e] = dM[e]·V[e]ᵀ, dW = Gᵀ dU G;
/// dX is the forward convolution of dY with the flipped, transposed filters and padding 2 − p,
/// whose transform is the forward's U permuted and transposed (`adjointSource`), not computed again.
///
/// Tiles are processed in panels of whole tile rows — a count fixed by the geometry, not the
/// thread count — through three parallel stages: input transform (split over channels), the 16
/// GEMMs (split over e), output transform (split over channels). Every sum has a fixed order, so
/// results are bit-identical for any thread count.
struct WinogradConv3x3 {
    let n, channelsIn, channelsOut, height, width, padY, padX: Int

    /// The F(2×2, 3×3) transforms cost about as much as the GEMMs below this channel count.
    static let minimumChannels = 16
    /// Tiles per panel (rounded down to whole tile rows). Measured on 128 channels at 64×64
    /// (`relief-bench resnet`): 512 beat 128, 256 and 1024 — GEMMs of 512 columns run near
    /// OpenBLAS's large-matrix speed while V and M (4 MB each) stay in cache.
    static let panelTiles = 512

    /// Whether F(2×2, 3×3) computes this convolution at all.
    static func fits(_ g: ConvGeometry) -> Bool {
        g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.ph <= 2 && g.pw <= 2
    }

    /// Whether it is the faster way.
    static func applies(_ g: ConvGeometry) -> Bool { fits(g) && min(g.cin, g.cout) >= minimumChannels }

    init(_ g: ConvGeometry) {
        self.init(n: g.n, channelsIn: g.cin, channelsOut: g.cout, height: g.h, width: g.w, padY: g.ph, padX: g.pw)
    }

    init(n: Int, channelsIn: Int, channelsOut: Int, height: Int, width: Int, padY: Int, padX: Int) {
        (self.n, self.channelsIn, self.channelsOut, self.height, self.width, self.padY, self.padX) =
            (n, channelsIn, channelsOut, height, width, padY, padX)
    }

    var outHeight: Int { height + 2 * padY - 2 }
    var outWidth: Int { width + 2 * padX - 2 }
    var tilesY: Int { (outHeight + 1) / 2 }
    var tilesX: Int { (outWidth + 1) / 2 }
    /// Tile rows of the whole batch, counted sample by sample.
    var tileRows: Int { n * tilesY }
    var rowsPerPanel: Int { max(1, Self.panelTiles / tilesX) }
    /// Distance between consecutive e in the panel buffers: channels·tiles is a multiple of 4 KB
    /// for typical sizes, which would put the 16 streams a transform writes in one L1 set.
    static func elementStride(channels: Int, tiles: Int) -> Int { channels * tiles + 32 }
    static func panelBuffer(channels: Int, capacity: Int) -> Tensor {
        Tensor(uninitializedShape: [16 * elementStride(channels: channels, tiles: capacity)])
    }

    var panels: [Range<Int>] {
        stride(from: 0, to: tileRows, by: rowsPerPanel).map { $0 ..< min(tileRows, $0 + rowsPerPanel) }
    }

    /// Length of one split input row in the scratch: tilesX + 1 columns, padded so that every
    /// stage loads whole vectors (the column stage reads up to index tilesX + 15).
    var inputRowLength: Int {
        let lanes = FloatVector.scalarCount
        return (tilesX + 2 * lanes - 1) / lanes * lanes
    }

    /// Scratch of one input-transform task: split rows (zeroed: the row stage reads whole vectors
    /// past their end), or, across a panel, its tiles' 4×4 elements and one padded input row.
    func inputScratch() -> Tensor {
        vectorisedAlongRows ? Tensor(zeros: [8 * inputRowLength]) : Tensor(uninitializedShape: [16 * rowsPerPanel * tilesX + paddedRowLength])
    }

    /// An input row with its padding, as the panel-wide input transform reads it: tile j reads
    /// elements 2j ..< 2j + 4, and 2·tilesX + 2 ≥ width + 2·padX.
    var paddedRowLength: Int { 2 * tilesX + 2 }

    /// Whether one tile row fills a vector: then the input transform runs along each row;
    /// narrower images (the 8², 4² levels of a UNet) run across all the panel's tiles instead,
    /// which a row-by-row pass would leave mostly in partial vectors.
    var vectorisedAlongRows: Bool { tilesX >= FloatVector.scalarCount }

    /// Filter pairs transformed together: each of the 16 planes of U is then written (or read) a
    /// contiguous run at a time, instead of 16 strided streams that share one L1 set.
    static let filterBlock = 64
    static func filterBlocks(_ range: Range<Int>) -> [Range<Int>] {
        stride(from: range.lowerBound, to: range.upperBound, by: filterBlock).map { $0 ..< min(range.upperBound, $0 + filterBlock) }
    }

    /// The convolution with padY/padX ≤ 2 that gives dX from dY.
    var transposed: WinogradConv3x3 {
        WinogradConv3x3(n: n, channelsIn: channelsOut, channelsOut: channelsIn, height: outHeight, width: outWidth,
                        padY: 2 - padY, padX: 2 - padX)
    }

    // MARK: Forward

    /// The transformed filters U of weight [Cout, Cin, 3, 3]: what `forward` and `backward` take.
    func filters(_ weight: UnsafePointer<Float>) -> Tensor {
        Self.transformFilters(weight, outputs: channelsOut, inputs: channelsIn)
    }

    /// out (+)= conv(x, weight) + bias; x [n, Cin, H, W], `filters` the weight's `filters(_:)`.
    func forward(_ x: UnsafePointer<Float>, filters: Tensor, bias: UnsafePointer<Float>?,
                 out: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        convolve(x, filters: filters.storage.base, adjoint: false, bias: bias, out: out, accumulate: accumulate)
    }

    /// dx += dX, dw += dW for out = conv(x, weight); bias gradients are the caller's.
    func backward(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, filters: Tensor,
                  dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>?) {
        if let dw { filterGradient(g, x, into: dw) }
        // dX[ci] = Σ_co dY[co] ⋆ flip(W[co, ci]): a forward convolution with Cin outputs, whose
        // filters are the forward's U read as its adjoint (see `convolve`).
        if let dx { transposed.convolve(g, filters: filters.storage.base, adjoint: true, bias: nil, out: dx, accumulate: true) }
    }

    /// Index of U's e whose plane, transposed, is the flipped filters' plane e. Flipping g by 180°
    /// is g ↦ J g J (J the reversal), and G J = P G with P swapping rows 0 and 3, so
    /// G (J g J) Gᵀ = P (G g Gᵀ) Pᵀ: element (a, b) of the flipped transform is element
    /// (p(a), p(b)) of the forward one, p swapping 0 and 3.
    static func adjointSource(_ e: Int) -> Int {
        func p(_ a: Int) -> Int { a == 0 ? 3 : a == 3 ? 0 : a }
        return p(e / 4) * 4 + p(e % 4)
    }

    /// Panels of: V = Bᵀ d B; M[e] = U[e]·V[e]; out = Aᵀ M A. `u` holds [Cout, Cin] planes, or with
    /// `adjoint` the planes of the convolution this one is the `transposed` of ([Cin, Cout]), each
    /// used transposed from its `adjointSource`: the transform of the flipped, transposed filters.
    private func convolve(_ x: UnsafePointer<Float>, filters u: UnsafePointer<Float>, adjoint: Bool, bias: UnsafePointer<Float>?,
                          out: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let (cin, cout) = (channelsIn, channelsOut)
        let capacity = rowsPerPanel * tilesX
        let v = Self.panelBuffer(channels: cin, capacity: capacity), m = Self.panelBuffer(channels: cout, capacity: capacity)
        let vp = v.storage.base, mp = m.storage.base
        for rows in panels {
            let tiles = rows.count * tilesX
            let vStride = Self.elementStride(channels: cin, tiles: tiles), mStride = Self.elementStride(channels: cout, tiles: tiles)
            Parallel.forRanges(cin, grain: 1) { channels in
                let scratch = inputScratch()
                for c in channels { transformInput(x, channel: c, rows: rows, into: vp + c * tiles, stride: vStride, scratch: scratch.storage.base) }
            }
            Parallel.forEach(16) { e in
                BLAS.sgemmOnThisThread(transA: adjoint, transB: false, m: cout, n: tiles, k: cin,
                                       a: u + (adjoint ? Self.adjointSource(e) : e) * cout * cin, lda: adjoint ? cout : cin,
                                       b: vp + e * vStride, ldb: tiles, beta: 0, c: mp + e * mStride, ldc: tiles)
            }
            Parallel.forRanges(cout, grain: 1) { channels in
                let scratch = Tensor(uninitializedShape: [4 * capacity])
                for c in channels {
                    transformOutput(mp + c * tiles, stride: mStride, channel: c, rows: rows, bias: bias?[c] ?? 0, out: out,
                                    accumulate: accumulate, scratch: scratch.storage.base)
                }
            }
        }
    }

    // MARK: Filter gradient

    /// dw += Gᵀ (Σ_panels dM[e]·V[e]ᵀ) G, with dM = A dY Aᵀ.
    private func filterGradient(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, into dw: UnsafeMutablePointer<Float>) {
        guard tileRows > 0 else { return }  // an empty batch adds nothing
        let (cin, cout) = (channelsIn, channelsOut)
        let capacity = rowsPerPanel * tilesX
        let v = Self.panelBuffer(channels: cin, capacity: capacity), dm = Self.panelBuffer(channels: cout, capacity: capacity)
        let du = Tensor(uninitializedShape: [16 * cout * cin])
        let vp = v.storage.base, dmp = dm.storage.base, dup = du.storage.base
        for (index, rows) in panels.enumerated() {
            let tiles = rows.count * tilesX
            let vStride = Self.elementStride(channels: cin, tiles: tiles), mStride = Self.elementStride(channels: cout, tiles: tiles)
            Parallel.forRanges(cin + cout, grain: 1) { channels in
                let inputs = inputScratch(), gradients = Tensor(uninitializedShape: [4 * capacity])
                for c in channels {
                    if c < cin {
                        transformInput(x, channel: c, rows: rows, into: vp + c * tiles, stride: vStride, scratch: inputs.storage.base)
                    } else {
                        transformOutputGradient(g, channel: c - cin, rows: rows, into: dmp + (c - cin) * tiles, stride: mStride,
                                                scratch: gradients.storage.base)
                    }
                }
            }
            Parallel.forEach(16) { e in
                BLAS.sgemmOnThisThread(transA: false, transB: true, m: cout, n: cin, k: tiles, a: dmp + e * mStride,
                                       lda: tiles, b: vp + e * vStride, ldb: tiles, beta: index == 0 ? 0 : 1,
                                       c: dup + e * cout * cin, ldc: cin)
            }
        }
        let pairs = cout * cin, plane = pairs
        Parallel.forRanges(pairs, grain: 4096) { range in
            let scratch = Tensor(uninitializedShape: [28 + 16 * Self.filterBlock])
            let d = scratch.storage.base, q = d + 16, staged = q + 12
            for block in Self.filterBlocks(range) {
                // dU[e][pair] for the block's pairs, each e's run read in one pass (see transformFilters).
                for e in 0..<16 { (staged + e * block.count).update(from: dup + e * plane + block.lowerBound, count: block.count) }
                for pair in block {
                    var source = staged + (pair - block.lowerBound)
                    for e in 0..<16 { d[e] = source.pointee; source += block.count }
                    // q = Gᵀ d (rows), then q G (columns); Gᵀ = [[1,½,½,0],[0,½,−½,0],[0,½,½,1]].
                    for j in 0..<4 {
                        let (d0, d1, d2, d3) = (d[j], d[4 + j], d[8 + j], d[12 + j])
                        q[j] = d0 + 0.5 * (d1 + d2); q[4 + j] = 0.5 * (d1 - d2); q[8 + j] = 0.5 * (d1 + d2) + d3
                    }
                    let out = dw + pair * 9
                    for i in 0..<3 {
                        let (r0, r1, r2, r3) = (q[4 * i], q[4 * i + 1], q[4 * i + 2], q[4 * i + 3])
                        out[3 * i] += r0 + 0.5 * (r1 + r2)
                        out[3 * i + 1] += 0.5 * (r1 - r2)
                        out[3 * i + 2] += 0.5 * (r1 + r2) + r3
                    }
                }
            }
        }
    }

    // MARK: Transforms

    /// U[e][o][i] = (G g Gᵀ)[e] for g = weight[o, i] ([outputs, inputs, 3, 3]).
    static func transformFilters(_ weight: UnsafePointer<Float>, outputs: Int, inputs: Int) -> Tensor {
        let u = Tensor(uninitializedShape: [16, outputs, inputs])
        let up = u.storage.base, plane = outputs * inputs
        Parallel.forRanges(plane, grain: 4096) { range in
            let scratch = Tensor(uninitializedShape: [21 + 16 * filterBlock])
            let g = scratch.storage.base, h = g + 9, staged = h + 12
            for block in filterBlocks(range) {
                for pair in block {
                    // Pointers, not indices, inside the pair: index arithmetic is overflow-checked
                    // (`-O`), a compare and branch per element the pointer walk does not need.
                    let source = weight + pair * 9
                    for t in 0..<9 { g[t] = source[t] }
                    // h = G g (rows), then h Gᵀ (columns); G = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]].
                    for j in 0..<3 {
                        let (g0, g1, g2) = (g[j], g[3 + j], g[6 + j])
                        h[j] = g0; h[3 + j] = 0.5 * (g0 + g1 + g2); h[6 + j] = 0.5 * (g0 - g1 + g2); h[9 + j] = g2
                    }
                    var e = staged + (pair - block.lowerBound)  // staged U[e = 0][pair]; consecutive e are block.count apart
                    for r in 0..<4 {
                        let (h0, h1, h2) = (h[3 * r], h[3 * r + 1], h[3 * r + 2])
                        e.pointee = h0; e += block.count
                        e.pointee = 0.5 * (h0 + h1 + h2); e += block.count
                        e.pointee = 0.5 * (h0 - h1 + h2); e += block.count
                        e.pointee = h2; e += block.count
                    }
                }
                for e in 0..<16 { (up + e * plane + block.lowerBound).update(from: staged + e * block.count, count: block.count) }
            }
        }
        return u
    }

    /// V[e][t] = (Bᵀ d B)[e] for the tiles of `rows` (a panel) of channel c; `v` points at e = 0 of
    /// the panel's first tile, consecutive e are `stride` apart.
    private func transformInput(_ x: UnsafePointer<Float>, channel c: Int, rows: Range<Int>,
                                into v: UnsafeMutablePointer<Float>, stride: Int, scratch: UnsafeMutablePointer<Float>) {
        guard !vectorisedAlongRows else {
            for r in rows { transformInputRow(x, channel: c, tileRow: r, into: v + (r - rows.lowerBound) * tilesX, stride: stride, scratch: scratch) }
            return
        }
        let tiles = rows.count * tilesX, tx = tilesX
        // d[4u + w][t]: element (u, w) of tile t, read from the padded input row: tile j's
        // columns are padded[2j ..< 2j + 4]. Only the row's middle is ever written, so its
        // padding stays zero.
        let d = scratch, padded = d + 16 * tiles
        padded.update(repeating: 0, count: paddedRowLength)
        for r in rows {
            let s = r / tilesY, ty = r % tilesY, first = (r - rows.lowerBound) * tx
            let plane = x + (s * channelsIn + c) * height * width
            for u in 0..<4 {
                let iy = 2 * ty - padY + u
                let d0 = d + 4 * u * tiles + first, d1 = d0 + tiles, d2 = d1 + tiles, d3 = d2 + tiles
                // Loops, not memset/memmove: rows here are a few floats, shorter than a call.
                if iy < 0 || iy >= height {
                    for j in 0..<tx { d0[j] = 0; d1[j] = 0; d2[j] = 0; d3[j] = 0 }
                    continue
                }
                let source = plane + iy * width, middle = padded + padX
                for i in 0..<width { middle[i] = source[i] }
                // Wrapping index arithmetic, as in `splitColumns`.
                for j in 0..<tx {
                    let p = padded + 2 &* j
                    d0[j] = p[0]; d1[j] = p[1]; d2[j] = p[2]; d3[j] = p[3]
                }
            }
        }
        VectorMath.forEachVector(tiles) { j, k in
            // Rows: column w of the tile (elements d[w], d[4 + w], d[8 + w], d[12 + w]) becomes
            // t_w = (d0 − d2, d1 + d2, d2 − d1, d1 − d3), as in transformInputRow.
            @inline(__always) func column(_ w: Int) -> (FloatVector, FloatVector, FloatVector, FloatVector) {
                let d0 = load(d + w * tiles + j, k), d1 = load(d + (4 + w) * tiles + j, k)
                let d2 = load(d + (8 + w) * tiles + j, k), d3 = load(d + (12 + w) * tiles + j, k)
                return (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
            }
            let (t00, t10, t20, t30) = column(0), (t01, t11, t21, t31) = column(1)
            let (t02, t12, t22, t32) = column(2), (t03, t13, t23, t33) = column(3)
            // Columns of row u: V[u,0] = t0 − t2, V[u,1] = t1 + t2, V[u,2] = t2 − t1, V[u,3] = t1 − t3.
            @inline(__always) func row(_ u: Int, _ a: FloatVector, _ b: FloatVector, _ c: FloatVector, _ e: FloatVector) {
                let v0 = v + 4 * u * stride + j
                store(a - c, v0, k); store(b + c, v0 + stride, k); store(c - b, v0 + 2 * stride, k); store(b - e, v0 + 3 * stride, k)
            }
            row(0, t00, t01, t02, t03); row(1, t10, t11, t12, t13); row(2, t20, t21, t22, t23); row(3, t30, t31, t32, t33)
        }
    }

    /// V[e][t] = (Bᵀ d B)[e] for the tiles of one tile row of one channel; `v` points at e = 0 of
    /// the row's first tile, consecutive e are `stride` apart. Bᵀ = [[1,0,−1,0],[0,1,1,0],[0,−1,1,0],[0,1,0,−1]].
    ///
    /// The four input rows are split into even and odd columns (E[j] = d[2j], O[j] = d[2j+1]), so
    /// tile j's columns are E[j], O[j], E[j+1], O[j+1] and every stage is a contiguous vector loop.
    private func transformInputRow(_ x: UnsafePointer<Float>, channel c: Int, tileRow r: Int,
                                   into v: UnsafeMutablePointer<Float>, stride: Int,
                                   scratch: UnsafeMutablePointer<Float>) {
        let s = r / tilesY, ty = r % tilesY, count = inputRowLength
        let plane = x + (s * channelsIn + c) * height * width
        let even = scratch, odd = scratch + 4 * count
        for u in 0..<4 {
            let iy = 2 * ty - padY + u
            let e = even + u * count, o = odd + u * count
            if iy < 0 || iy >= height {
                e.update(repeating: 0, count: count); o.update(repeating: 0, count: count)
            } else {
                splitColumns(plane + iy * width, width: width, pad: padX, even: e, odd: o, count: tilesX + 1)
            }
        }
        // Rows: t0 = d0 − d2, t1 = d1 + d2, t2 = d2 − d1, t3 = d1 − d3, in place over the scratch.
        for side in 0..<2 {
            let d0 = scratch + side * 4 * count, d1 = d0 + count, d2 = d1 + count, d3 = d2 + count
            VectorMath.forEachVector(count) { j, _ in
                let a = load(d0 + j), b = load(d1 + j), c2 = load(d2 + j), d = load(d3 + j)
                store(a - c2, d0 + j); store(b + c2, d1 + j); store(c2 - b, d2 + j); store(b - d, d3 + j)
            }
        }
        // Columns of row u: V[u,0] = E[j] − E[j+1], V[u,1] = O[j] + E[j+1], V[u,2] = E[j+1] − O[j], V[u,3] = O[j] − O[j+1].
        for u in 0..<4 {
            let e = even + u * count, o = odd + u * count
            let v0 = v + (4 * u) * stride, v1 = v0 + stride, v2 = v1 + stride, v3 = v2 + stride
            VectorMath.forEachVector(tilesX) { j, k in
                let e0 = load(e + j), e1 = load(e + j + 1), o0 = load(o + j), o1 = load(o + j + 1)
                store(e0 - e1, v0 + j, k); store(o0 + e1, v1 + j, k); store(e1 - o0, v2 + j, k); store(o0 - o1, v3 + j, k)
            }
        }
    }

    /// even[j] = row[2j − pad], odd[j] = row[2j + 1 − pad], zero outside 0..<width.
    @inline(__always)
    private func splitColumns(_ row: UnsafePointer<Float>, width: Int, pad: Int, even: UnsafeMutablePointer<Float>,
                              odd: UnsafeMutablePointer<Float>, count: Int) {
        // Interior: both 2j − pad ≥ 0 and 2j + 1 − pad < width.
        let lo = min(count, (pad + 1) / 2), hi = max(lo, min(count, (width + pad) / 2))
        for j in 0..<lo { let i = 2 * j - pad; even[j] = i >= 0 && i < width ? row[i] : 0; odd[j] = i + 1 >= 0 && i + 1 < width ? row[i + 1] : 0 }
        // Wrapping index arithmetic (j < count, so 2j + 1 cannot overflow): an overflow check in
        // the loop keeps it from being vectorised, a third more instructions per convolution.
        let base = row - pad
        for j in lo..<hi { even[j] = base[2 &* j]; odd[j] = base[2 &* j &+ 1] }
        for j in hi..<count { let i = 2 * j - pad; even[j] = i >= 0 && i < width ? row[i] : 0; odd[j] = i + 1 >= 0 && i + 1 < width ? row[i + 1] : 0 }
    }

    /// out[2ty + a, 2j + b] (+)= (Aᵀ M A)[a, b] + bias for the tiles of `rows` (a panel) of output
    /// channel c; `m` points at e = 0 of the panel's first tile. Aᵀ = [[1,1,1,0],[0,1,−1,−1]].
    /// The panel's tiles are contiguous in M, so the transform runs across all of them at once
    /// (whole vectors however narrow the image) and each tile row is then scattered.
    private func transformOutput(_ m: UnsafePointer<Float>, stride: Int, channel c: Int, rows: Range<Int>,
                                 bias: Float, out: UnsafeMutablePointer<Float>, accumulate: Bool,
                                 scratch: UnsafeMutablePointer<Float>) {
        let tiles = rows.count * tilesX
        let y00 = scratch, y01 = y00 + tiles, y10 = y01 + tiles, y11 = y10 + tiles
        let m0 = m, m1 = m0 + stride, m2 = m1 + stride, m3 = m2 + stride, m4 = m3 + stride, m5 = m4 + stride
        let m6 = m5 + stride, m7 = m6 + stride, m8 = m7 + stride, m9 = m8 + stride, m10 = m9 + stride
        let m11 = m10 + stride, m12 = m11 + stride, m13 = m12 + stride, m14 = m13 + stride, m15 = m14 + stride
        VectorMath.forEachVector(tiles) { j, k in
            // Rows: s0 = M0 + M1 + M2, s1 = M1 − M2 − M3 (M_u the u-th row of 4); then the same on columns.
            let s00 = load(m0 + j, k) + load(m4 + j, k) + load(m8 + j, k), s01 = load(m1 + j, k) + load(m5 + j, k) + load(m9 + j, k)
            let s02 = load(m2 + j, k) + load(m6 + j, k) + load(m10 + j, k), s03 = load(m3 + j, k) + load(m7 + j, k) + load(m11 + j, k)
            let s10 = load(m4 + j, k) - load(m8 + j, k) - load(m12 + j, k), s11 = load(m5 + j, k) - load(m9 + j, k) - load(m13 + j, k)
            let s12 = load(m6 + j, k) - load(m10 + j, k) - load(m14 + j, k), s13 = load(m7 + j, k) - load(m11 + j, k) - load(m15 + j, k)
            store(s00 + s01 + s02 + bias, y00 + j, k); store(s01 - s02 - s03 + bias, y01 + j, k)
            store(s10 + s11 + s12 + bias, y10 + j, k); store(s11 - s12 - s13 + bias, y11 + j, k)
        }
        let pairs = outWidth / 2, oddTail = outWidth % 2 == 1
        for r in rows {
            let s = r / tilesY, ty = r % tilesY, first = (r - rows.lowerBound) * tilesX
            let plane = out + (s * channelsOut + c) * outHeight * outWidth
            for a in 0..<2 {
                let oy = 2 * ty + a, ev = (a == 0 ? y00 : y10) + first, od = (a == 0 ? y01 : y11) + first
                guard oy < outHeight else { break }
                let row = plane + oy * outWidth
                // Wrapping index arithmetic in the loops, as in `splitColumns`: vectorised interleaves.
                if accumulate {
                    for j in 0..<pairs { row[2 &* j] += ev[j]; row[2 &* j &+ 1] += od[j] }
                    if oddTail { row[2 * pairs] += ev[pairs] }
                } else {
                    for j in 0..<pairs { row[2 &* j] = ev[j]; row[2 &* j &+ 1] = od[j] }
                    if oddTail { row[2 * pairs] = ev[pairs] }
                }
            }
        }
    }

    /// dM[e][t] = (A dY Aᵀ)[e] for the tiles of `rows` (a panel) of output channel c (the adjoint
    /// of the output transform; dY is zero beyond the output's edge), across the panel's tiles
    /// as `transformOutput`. A = [[1,0],[1,1],[1,−1],[0,−1]].
    private func transformOutputGradient(_ g: UnsafePointer<Float>, channel c: Int, rows: Range<Int>,
                                         into dm: UnsafeMutablePointer<Float>, stride: Int,
                                         scratch: UnsafeMutablePointer<Float>) {
        let tiles = rows.count * tilesX
        // y_ab[t] = dY[2ty + a, 2j + b] of tile t = (row, j).
        let y00 = scratch, y01 = y00 + tiles, y10 = y01 + tiles, y11 = y10 + tiles
        for r in rows {
            let s = r / tilesY, ty = r % tilesY, first = (r - rows.lowerBound) * tilesX
            let plane = g + (s * channelsOut + c) * outHeight * outWidth
            for a in 0..<2 {
                let oy = 2 * ty + a, ev = (a == 0 ? y00 : y10) + first, od = (a == 0 ? y01 : y11) + first
                if oy >= outHeight {
                    ev.update(repeating: 0, count: tilesX); od.update(repeating: 0, count: tilesX)
                    continue
                }
                splitColumns(plane + oy * outWidth, width: outWidth, pad: 0, even: ev, odd: od, count: tilesX)
            }
        }
        VectorMath.forEachVector(tiles) { j, k in
            // Rows (p, q)_u = (y0, y0 + y1, y0 − y1, −y1) over a; then each row (p, q) → (p, p + q, p − q, −q).
            let a0 = load(y00 + j, k), b0 = load(y01 + j, k), a1 = load(y10 + j, k), b1 = load(y11 + j, k)
            func row(_ u: Int, _ p: FloatVector, _ q: FloatVector) {
                let base = dm + 4 * u * stride + j
                store(p, base, k); store(p + q, base + stride, k); store(p - q, base + 2 * stride, k); store(-q, base + 3 * stride, k)
            }
            row(0, a0, b0); row(1, a0 + a1, b0 + b1); row(2, a0 - a1, b0 - b1); row(3, -a1, -b1)
        }
    }
}

@inline(__always) private func load(_ p: UnsafePointer<Float>, _ k: Int = FloatVector.scalarCount) -> FloatVector {
    VectorMath.load(p, count: k)
}
@inline(__always) private func load(_ p: UnsafeMutablePointer<Float>, _ k: Int = FloatVector.scalarCount) -> FloatVector {
    VectorMath.load(p, count: k)
}
@inline(__always) private func store(_ v: FloatVector, _ p: UnsafeMutablePointer<Float>, _ k: Int = FloatVector.scalarCount) {
    VectorMath.store(v, p, count: k)
}
