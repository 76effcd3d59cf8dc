import CKernels
import Foundation

/// Scaled dot-product attention softmax(scale·Q·Kᵀ)·V, tiled as FlashAttention-2.
///
/// Forward walks query blocks × key blocks with an online softmax, so only one
/// `queryBlock × keyBlock` score tile per thread ever exists: memory is linear in sequence
/// length. It saves the output and the per-row log-sum-exp; backward recomputes each score tile
/// from them (dS = P∘(dP − rowsum(dO∘O))) and accumulates dQ, dK, dV with GEMMs: the AVX-512
/// micro-kernels of `CKernels` where the CPU has them, else OpenBLAS (`AttentionTiles`).
///
/// Forward hands out (batch·head × query block) items to threads one at a time, each with its
/// own score tile and its products on its own thread. Backward hands out batch·heads, or, when
/// there are fewer than threads, key blocks (for dK, dV) then query blocks (for dQ). Items are
/// taken as threads free up, so a core the VM slows for a while does not hold the others back;
/// every gradient element is still summed in one fixed order, so results are identical for any
/// thread count and schedule.
///
/// q is [batch…, Nq, D], k is [batch…, Nk, D], v is [batch…, Nk, Dv] (typically [B, H, N, D]);
/// the result is [batch…, Nq, Dv]. `scale` defaults to 1/√D.
public func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, scale: Float? = nil) -> Tensor {
    check(q.rank >= 2 && k.rank == q.rank && v.rank == q.rank,
          "attention needs q, k, v of equal rank ≥ 2, got \(q.shape), \(k.shape), \(v.shape)")
    let batchShape = Array(q.shape.dropLast(2))
    check(Array(k.shape.dropLast(2)) == batchShape && Array(v.shape.dropLast(2)) == batchShape,
          "attention batch shapes differ: q \(q.shape), k \(k.shape), v \(v.shape)")
    let geometry = AttentionGeometry(batch: elementCount(batchShape), nq: q.shape[q.rank - 2], nk: k.shape[k.rank - 2],
                                     d: q.shape[q.rank - 1], dv: v.shape[v.rank - 1],
                                     scale: scale ?? 1 / Float(q.shape[q.rank - 1]).squareRoot())
    check(k.shape[k.rank - 1] == geometry.d, "attention: q has D=\(geometry.d) but k is \(k.shape)")
    check(v.shape[v.rank - 2] == geometry.nk, "attention: k has \(geometry.nk) keys but v is \(v.shape)")
    check(geometry.nk > 0, "attention over zero keys")

    return geometry.run(q, k, v, outShape: batchShape + [geometry.nq, geometry.dv])
}

/// Multi-head attention on tokens laid out [B, N, H·D] (heads side by side in each token, as a
/// linear layer writes them): the same as splitting heads to [B, H, N, D], `attention`, and
/// merging back, without the four permutes and their gradients — each head is read and written
/// in place with a row stride of H·D.
///
/// q is [B, Nq, H·D], k is [B, Nk, H·D], v is [B, Nk, H·Dv]; the result is [B, Nq, H·Dv].
public func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, scale: Float? = nil) -> Tensor {
    check(q.rank == 3 && k.rank == 3 && v.rank == 3 && heads > 0,
          "attention(heads:) needs q, k, v of shape [B, N, H·D], got \(q.shape), \(k.shape), \(v.shape)")
    check(k.shape[0] == q.shape[0] && v.shape[0] == q.shape[0],
          "attention batch sizes differ: q \(q.shape), k \(k.shape), v \(v.shape)")
    check(q.shape[2] % heads == 0 && v.shape[2] % heads == 0,
          "attention: \(heads) heads do not divide q \(q.shape) or v \(v.shape)")
    let d = q.shape[2] / heads
    let geometry = AttentionGeometry(batch: q.shape[0] * heads, nq: q.shape[1], nk: k.shape[1], d: d,
                                     dv: v.shape[2] / heads, scale: scale ?? 1 / Float(d).squareRoot(), heads: heads)
    check(k.shape[2] == q.shape[2], "attention: q is \(q.shape) but k is \(k.shape)")
    check(v.shape[1] == geometry.nk, "attention: k has \(geometry.nk) keys but v is \(v.shape)")
    check(geometry.nk > 0, "attention over zero keys")
    return geometry.run(q, k, v, outShape: [q.shape[0], geometry.nq, v.shape[2]])
}

/// What runs attention's tile products: Relief's AVX-512 micro-kernels (`CKernels`), by default
/// wherever the CPU has AVX-512F, or OpenBLAS. A switch for benchmarks and tests to compare them.
public enum AttentionTiles {
    public static let microKernelsAvailable = relief_microkernels_available() != 0
    public static var microKernels = microKernelsAvailable {
        didSet { microKernels = microKernels && microKernelsAvailable }
    }
}

struct AttentionGeometry {
    /// Slices (batch·heads), their query and key counts, and head widths.
    let batch, nq, nk, d, dv: Int
    let scale: Float
    /// Slices interleaved per token: 1 for [slices, N, D]; H for [B, N, H, D], where slice
    /// b = batch·H + head.
    var heads = 1

    /// Offset of row `row` of slice b in a tensor of rows of `width` per head.
    @inline(__always)
    func rowOffset(_ b: Int, _ row: Int, rows n: Int, width: Int) -> Int {
        ((b / heads * n + row) * heads + b % heads) * width
    }

    /// Forward, and the backward recorded on the tape.
    func run(_ q: Tensor, _ k: Tensor, _ v: Tensor, outShape: [Int]) -> Tensor {
        let geometry = self
        let out = Tensor(uninitializedShape: outShape)
        let lse = Tensor(uninitializedShape: [batch * nq])
        forward(q.storage.base, k.storage.base, v.storage.base, out: out.storage.base, lse: lse.storage.base)
        let output = out
        return out.recorded(q, k, v) { g in
            let tape = Tape.shared
            geometry.backward(q.storage.base, k.storage.base, v.storage.base, out: output.storage.base, lse: lse.storage.base,
                              dOut: g, dq: tape.gradientBuffer(q.gradSlot), dk: tape.gradientBuffer(k.gradSlot),
                              dv: tape.gradientBuffer(v.gradSlot))
        }
    }
    // A 256 × 512 score tile is 512 KB, two of them (backward) fit the 2 MB L2 per core. On
    // 2026-11-22 128 × 256 tiles lost ~10% to per-call overhead and re-packing K and V for every
    // query block; on 2026-12-02 (heads in place, GEMMs split by Relief) tiles from 128 × 256 to
    // 512 × 1024 all ran within 5% of each other.
    static let queryBlock = 256
    static let keyBlock = 512
    /// Row stride of a score tile: 16 floats past the key block, so that a column of the tile
    /// (read down its rows by the transposed products) does not fall in one L1 set.
    static let tileStride = keyBlock + 16
    static let tileSize = queryBlock * tileStride

    var queryBlocks: Int { (nq + Self.queryBlock - 1) / Self.queryBlock }
    var keyBlocks: Int { (nk + Self.keyBlock - 1) / Self.keyBlock }

    func forward(_ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
                 out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>) {
        let keys = usesMicroKernels ? TransposedSlices(k, geometry: self, rows: nk, width: d) : nil
        Parallel.forEach(batch * queryBlocks) { item in
            let scratch = Tensor(uninitializedShape: [Self.tileSize + 2 * Self.queryBlock])
            let s = scratch.storage.base, m = s + Self.tileSize, l = m + Self.queryBlock
            forwardBlock(item / queryBlocks, item % queryBlocks, q, k, v, out, lse, keys: keys,
                         scores: s, rowMax: m, rowSum: l)
        }
        withExtendedLifetime(keys) {}
    }

    private func forwardBlock(_ b: Int, _ qb: Int, _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>,
                              _ v: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                              _ lse: UnsafeMutablePointer<Float>, keys: TransposedSlices?, scores s: UnsafeMutablePointer<Float>,
                              rowMax m: UnsafeMutablePointer<Float>, rowSum l: UnsafeMutablePointer<Float>) {
        let q0 = qb * Self.queryBlock, rows = min(Self.queryBlock, nq - q0), ldS = Self.tileStride
        let ldq = heads * d, ldv = heads * dv
        let qi = q + rowOffset(b, q0, rows: nq, width: d), oi = out + rowOffset(b, q0, rows: nq, width: dv)
        for r in 0..<rows { (oi + r * ldv).update(repeating: 0, count: dv) }
        m.update(repeating: -.infinity, count: rows)
        l.update(repeating: 0, count: rows)
        for kbI in 0..<keyBlocks {
            let k0 = kbI * Self.keyBlock, cols = min(Self.keyBlock, nk - k0)
            let kj = k + rowOffset(b, k0, rows: nk, width: d), vj = v + rowOffset(b, k0, rows: nk, width: dv)
            timesTransposed(rows: rows, cols: cols, depth: d, alpha: scale, qi, ldq, keys, b, k0, kj, ldq, into: s, ldS)
            for r in 0..<rows {
                let row = s + r * ldS
                let newMax = max(m[r], vectorMax(row, cols))
                let correction = VectorMath.exp(m[r] - newMax)
                l[r] = l[r] * correction + expShiftedInPlace(row, cols, shift: newMax)
                m[r] = newMax
                if correction != 1 {
                    let o = oi + r * ldv
                    for c in 0..<dv { o[c] *= correction }
                }
            }
            accumulateProduct(m: rows, width: dv, depth: cols, s, ldS, transposed: false, vj, ldv, into: oi, ldv)
        }
        for r in 0..<rows {
            let inv = 1 / l[r], o = oi + r * ldv
            for c in 0..<dv { o[c] *= inv }
            lse[b * nq + q0 + r] = m[r] + Foundation.log(l[r])
        }
    }

    func backward(_ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
                  out: UnsafePointer<Float>, lse: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
                  dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?, dv dvGrad: UnsafeMutablePointer<Float>?) {
        if dq == nil && dk == nil && dvGrad == nil { return }
        // D = rowsum(dO∘O), once per query row.
        let delta = Tensor(uninitializedShape: [batch * nq])
        let dp = delta.storage.base, dv = self.dv
        Parallel.forRanges(batch * nq, grain: max(1, 16_384 / max(dv, 1))) { range in
            for r in range {
                let offset = rowOffset(r / nq, r % nq, rows: nq, width: dv)
                dp[r] = simdDot(dOut + offset, out + offset, dv)
            }
        }
        let packed = usesMicroKernels && (dq != nil || dk != nil)
        let keys = packed ? TransposedSlices(k, geometry: self, rows: nk, width: d) : nil
        let values = packed ? TransposedSlices(v, geometry: self, rows: nk, width: dv) : nil
        defer { withExtendedLifetime((keys, values)) {} }
        let tile = Self.tileSize
        if batch >= Parallel.threads || Parallel.threads == 1 {
            // Each (batch·head) is independent and owns its slices of dQ, dK, dV: parallel over
            // them, sequential inside (key blocks outer, query blocks inner, as FlashAttention-2).
            Parallel.forEach(batch) { b in
                let scratch = Tensor(uninitializedShape: [2 * tile])
                for kbI in 0..<keyBlocks { for qbI in 0..<queryBlocks {
                    backwardTile(b, kbI, qbI, q, k, v, lse, dOut, dp, keys, values, dq: dq, dk: dk, dv: dvGrad,
                                 scratch: scratch.storage.base)
                } }
            }
            return
        }
        // Too few slices to fill the cores: split each slice twice. Key blocks own dK_j, dV_j
        // (summed over query blocks in order); then query blocks own dQ_i (summed over key blocks
        // in order), recomputing their score tiles. The same sums in the same order as above, so
        // bit-identical results, for 7/5 of the GEMM work.
        for b in 0..<batch {
            if dk != nil || dvGrad != nil {
                Parallel.forEach(keyBlocks) { kbI in
                    let scratch = Tensor(uninitializedShape: [2 * tile])
                    for qbI in 0..<queryBlocks {
                        backwardTile(b, kbI, qbI, q, k, v, lse, dOut, dp, keys, values, dq: nil, dk: dk, dv: dvGrad,
                                     scratch: scratch.storage.base)
                    }
                }
            }
            if let dq {
                Parallel.forEach(queryBlocks) { qbI in
                    let scratch = Tensor(uninitializedShape: [2 * tile])
                    for kbI in 0..<keyBlocks {
                        backwardTile(b, kbI, qbI, q, k, v, lse, dOut, dp, keys, values, dq: dq, dk: nil, dv: nil,
                                     scratch: scratch.storage.base)
                    }
                }
            }
        }
    }

    /// One (key block, query block) tile of slice b: recomputes P from the saved log-sum-exp and
    /// accumulates the requested gradients. `scratch` holds two score tiles.
    private func backwardTile(_ b: Int, _ kbI: Int, _ qbI: Int, _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>,
                              _ v: UnsafePointer<Float>, _ lse: UnsafePointer<Float>, _ dOut: UnsafePointer<Float>,
                              _ delta: UnsafePointer<Float>, _ keys: TransposedSlices?, _ values: TransposedSlices?,
                              dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?,
                              dv dvGrad: UnsafeMutablePointer<Float>?, scratch p: UnsafeMutablePointer<Float>) {
        let ld = Self.tileStride, ds = p + Self.tileSize
        let k0 = kbI * Self.keyBlock, cols = min(Self.keyBlock, nk - k0)
        let q0 = qbI * Self.queryBlock, rows = min(Self.queryBlock, nq - q0)
        let ldq = heads * d, ldv = heads * dv
        let qOffset = rowOffset(b, q0, rows: nq, width: d), kOffset = rowOffset(b, k0, rows: nk, width: d)
        let qi = q + qOffset, gi = dOut + rowOffset(b, q0, rows: nq, width: dv)
        let kj = k + kOffset, vOffset = rowOffset(b, k0, rows: nk, width: dv), vj = v + vOffset
        timesTransposed(rows: rows, cols: cols, depth: d, alpha: scale, qi, ldq, keys, b, k0, kj, ldq, into: p, ld)
        let needsDS = dq != nil || dk != nil
        // OpenBLAS clears C for beta = 0, so on that path dS starts as −D and dP − D comes out of
        // one beta = 1 GEMM; the micro-kernel writes dP and the pass below subtracts D.
        let startsAtMinusDelta = needsDS && values == nil
        for r in 0..<rows {
            _ = expShiftedInPlace(p + r * ld, cols, shift: lse[b * nq + q0 + r])
            if startsAtMinusDelta { (ds + r * ld).update(repeating: -delta[b * nq + q0 + r], count: cols) }
        }
        if let dvGrad {  // dV_j += Pᵀ·dO_i
            accumulateProduct(m: cols, width: dv, depth: rows, p, ld, transposed: true, gi, ldv, into: dvGrad + vOffset, ldv)
        }
        guard needsDS else { return }
        // dS = scale · P∘(dP − D), dP = dO_i·V_jᵀ. The scale is folded in here, once, rather
        // than into both products that read dS.
        timesTransposed(rows: rows, cols: cols, depth: dv, alpha: 1, gi, ldv, values, b, k0, vj, ldv, into: ds, ld,
                        accumulate: startsAtMinusDelta)
        for r in 0..<rows {
            let pr = p + r * ld, dr = ds + r * ld, shift = startsAtMinusDelta ? 0 : delta[b * nq + q0 + r]
            for c in 0..<cols { dr[c] = (dr[c] - shift) * pr[c] * scale }
        }
        if let dq {  // dQ_i += dS·K_j
            accumulateProduct(m: rows, width: d, depth: cols, ds, ld, transposed: false, kj, ldq, into: dq + qOffset, ldq)
        }
        if let dk {  // dK_j += dSᵀ·Q_i
            accumulateProduct(m: cols, width: d, depth: rows, ds, ld, transposed: true, qi, ldq, into: dk + kOffset, ldq)
        }
    }

    // MARK: Tile products

    /// Tiles run on Relief's AVX-512 micro-kernels when they are on and both head widths are
    /// multiples of 16, else on OpenBLAS.
    var usesMicroKernels: Bool { AttentionTiles.microKernels && d % 16 == 0 && dv % 16 == 0 }

    /// C[rows × cols] (= or +=) alpha · X·Y_jᵀ, where Y_j is key block k0 of slice b: from its
    /// transposed copy with the micro-kernel, else from `y` itself through OpenBLAS.
    @inline(__always)
    private func timesTransposed(rows: Int, cols: Int, depth: Int, alpha: Float, _ x: UnsafePointer<Float>, _ ldx: Int,
                                 _ transposed: TransposedSlices?, _ b: Int, _ k0: Int, _ y: UnsafePointer<Float>, _ ldy: Int,
                                 into c: UnsafeMutablePointer<Float>, _ ldc: Int, accumulate: Bool = false) {
        if let transposed, !accumulate {
            relief_rows_times_packed(Int32(rows), Int32(cols), Int32(depth), alpha, x, ldx, transposed.columns(b, from: k0),
                                     transposed.stride, c, ldc)
        } else {
            BLAS.sgemmOnThisThread(transA: false, transB: true, m: rows, n: cols, k: depth, alpha: alpha, a: x, lda: ldx,
                                   b: y, ldb: ldy, beta: accumulate ? 1 : 0, c: c, ldc: ldc)
        }
    }

    /// C[m × width] += op(A)·B with op(A) = A or Aᵀ, A of row stride lda: attention's products
    /// whose output is one head wide.
    @inline(__always)
    private func accumulateProduct(m: Int, width: Int, depth: Int, _ a: UnsafePointer<Float>, _ lda: Int, transposed: Bool,
                                   _ bMatrix: UnsafePointer<Float>, _ ldb: Int, into c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        if usesMicroKernels {
            relief_accumulate_product(Int32(m), Int32(width), Int32(depth), a, transposed ? 1 : lda, transposed ? lda : 1,
                                      bMatrix, ldb, c, ldc)
        } else {
            BLAS.sgemmOnThisThread(transA: transposed, transB: false, m: m, n: width, k: depth, a: a, lda: lda,
                                   b: bMatrix, ldb: ldb, beta: 1, c: c, ldc: ldc)
        }
    }
}

/// Every slice's rows (keys or values) transposed, for the micro-kernel's right-hand side: slice
/// b is a [width × stride] block, zero beyond the rows. One pass over K (or V) per attention
/// call, linear in sequence length.
final class TransposedSlices {
    let storage: Tensor
    let stride: Int, width: Int

    init(_ x: UnsafePointer<Float>, geometry g: AttentionGeometry, rows n: Int, width: Int) {
        self.width = width
        // Rows rounded up to the kernel's 32 columns, plus 16 floats: at a multiple of 4 KB the
        // rows of a column panel all fall in one L1 set, and writing or reading them thrashes it.
        let stride = (n + 31) / 32 * 32 + 16
        self.stride = stride
        storage = Tensor(uninitializedShape: [g.batch * width * stride])
        let base = storage.storage.base
        Parallel.forRanges(g.batch, grain: 1) { range in
            for b in range {
                let slice = base + b * width * stride
                // Row by row: the `width` lines being filled stay in L1 (in distinct sets, see
                // the stride) until 16 rows have completed them.
                for j in 0..<n {
                    let row = x + g.rowOffset(b, j, rows: n, width: width)
                    for c in 0..<width { slice[c * stride + j] = row[c] }
                }
                if stride > n { for c in 0..<width { (slice + c * stride + n).update(repeating: 0, count: stride - n) } }
            }
        }
    }

    @inline(__always)
    func columns(_ b: Int, from k0: Int) -> UnsafePointer<Float> { UnsafePointer(storage.storage.base) + b * width * stride + k0 }
}

// MARK: - Row max and exp

/// Largest of n floats. Four accumulators hide the compare latency; `replacing(where:)`
/// lowers to compare + blend (the generic `pointwiseMax` and `.max()` are lane loops).
@inline(__always)
func vectorMax(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var i = 0
    var best = -Float.infinity
    if n >= 64 {
        func load(_ j: Int) -> SIMD16<Float> { UnsafeRawPointer(p + j).loadUnaligned(as: SIMD16<Float>.self) }
        var a0 = load(0), a1 = load(16), a2 = load(32), a3 = load(48)
        i = 64
        while i + 64 <= n {
            a0 = lanewiseMax(a0, load(i)); a1 = lanewiseMax(a1, load(i + 16))
            a2 = lanewiseMax(a2, load(i + 32)); a3 = lanewiseMax(a3, load(i + 48))
            i += 64
        }
        while i + 16 <= n { a0 = lanewiseMax(a0, load(i)); i += 16 }
        let a = lanewiseMax(lanewiseMax(a0, a1), lanewiseMax(a2, a3))
        let h8 = lanewiseMax(a.lowHalf, a.highHalf), h4 = lanewiseMax(h8.lowHalf, h8.highHalf)
        best = max(max(h4[0], h4[1]), max(h4[2], h4[3]))
    }
    while i < n { best = max(best, p[i]); i += 1 }
    return best
}

// Concrete overloads: through a generic SIMD parameter the same code becomes a lane loop.
@inline(__always)
func lanewiseMax(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { a.replacing(with: b, where: b .> a) }
@inline(__always)
func lanewiseMax(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .> a) }
@inline(__always)
func lanewiseMax(_ a: SIMD4<Float>, _ b: SIMD4<Float>) -> SIMD4<Float> { a.replacing(with: b, where: b .> a) }

/// p[i] = exp(p[i] − shift); returns the sum of the new values (the tail padded to a vector,
/// its padding lanes left out of the sum).
@inline(__always)
func expShiftedInPlace(_ p: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
    var acc = SIMD16<Float>()
    var i = 0
    let s = SIMD16<Float>(repeating: shift)
    while i + 16 <= n {
        let e = VectorMath.exp(UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self) - s)
        UnsafeMutableRawPointer(p + i).storeBytes(of: e, as: SIMD16<Float>.self)
        acc += e
        i += 16
    }
    var total = acc.sum()
    if i < n {
        let e = VectorMath.exp(VectorMath.load(p + i, count: n - i) - s)
        VectorMath.store(e, p + i, count: n - i)
        for lane in 0..<(n - i) { total += e[lane] }
    }
    return total
}
