/// Batched matrix product with optional transposes, through OpenBLAS sgemm.
///
/// `a` is `[batch…, M, K]` (`[batch…, K, M]` when `transposeA`), `b` is `[batch…, K, N]`
/// (`[batch…, N, K]` when `transposeB`). Either operand may be a plain matrix shared by every
/// batch entry (a weight). The result is `[batch…, M, N]`.
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    check(a.rank >= 2 && b.rank >= 2, "matmul needs matrices, got \(a.shape) and \(b.shape)")
    let aBatch = Array(a.shape.dropLast(2)), bBatch = Array(b.shape.dropLast(2))
    check(aBatch == bBatch || aBatch.isEmpty || bBatch.isEmpty,
          "matmul batch shapes differ: \(a.shape) and \(b.shape)")
    let batchShape = aBatch.isEmpty ? bBatch : aBatch
    let batch = elementCount(batchShape)
    let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
    let (m, k) = transposeA ? (ac, ar) : (ar, ac)
    let (kb, n) = transposeB ? (bc, br) : (br, bc)
    check(k == kb, "matmul inner sizes differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")

    let out = Tensor(uninitializedShape: batchShape + [m, n])
    let aStride = aBatch.isEmpty ? 0 : m * k, bStride = bBatch.isEmpty ? 0 : k * n
    let geometry = GEMMGeometry(batch: batch, m: m, n: n, k: k, aStride: aStride, bStride: bStride)
    geometry.forward(a.storage.base, b.storage.base, out.storage.base, transposeA: transposeA, transposeB: transposeB)

    return out.recorded(a, b) { g in
        if batch == 0 { return }  // nothing flows (and a fresh buffer would stay unwritten)
        if let (ga, accumulate) = Tape.shared.gradientDestination(a.gradSlot) {
            geometry.gradientA(g, b.storage.base, into: ga, accumulate: accumulate, transposeA: transposeA, transposeB: transposeB)
        }
        if let (gb, accumulate) = Tape.shared.gradientDestination(b.gradSlot) {
            geometry.gradientB(g, a.storage.base, into: gb, accumulate: accumulate, transposeA: transposeA, transposeB: transposeB)
        }
    }
}

/// Sizes of a batched product C[i] = op(A[i])·op(B[i]); a zero stride means the operand is
/// shared across the batch (its gradient then sums over the batch).
struct GEMMGeometry {
    let batch, m, n, k, aStride, bStride: Int

    /// When A is untransposed and B shared, the batch folds into M: one large GEMM.
    var foldsIntoM: Bool { bStride == 0 && aStride != 0 }

    /// GEMM beta for batch entry i writing a gradient: 0 where it is the first write to a fresh
    /// buffer (entries of a shared operand, stride 0, all add into the same one).
    @inline(__always)
    static func beta(accumulate: Bool, entry i: Int, stride: Int) -> Float {
        accumulate || (stride == 0 && i > 0) ? 1 : 0
    }

    func forward(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                 transposeA: Bool, transposeB: Bool) {
        let lda = transposeA ? m : k, ldb = transposeB ? k : n
        if foldsIntoM && !transposeA {
            BLAS.sgemm(transA: false, transB: transposeB, m: batch * m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                       beta: 0, c: c, ldc: n)
            return
        }
        for i in 0..<batch {
            BLAS.sgemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k, a: a + i * aStride, lda: lda,
                       b: b + i * bStride, ldb: ldb, beta: 0, c: c + i * m * n, ldc: n)
        }
    }

    /// Accumulates dA: dop(A) = dC·op(B)ᵀ, stored transposed when A was.
    func gradientA(_ g: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into ga: UnsafeMutablePointer<Float>,
                   accumulate: Bool = true, transposeA: Bool, transposeB: Bool) {
        let ldb = transposeB ? k : n
        if !transposeA && foldsIntoM {
            // dA[bm, k] = dC[bm, n] · op(B)ᵀ
            BLAS.sgemm(transA: false, transB: !transposeB, m: batch * m, n: k, k: n, a: g, lda: n, b: b, ldb: ldb,
                       beta: accumulate ? 1 : 0, c: ga, ldc: k)
            return
        }
        for i in 0..<batch {
            let gi = g + i * m * n, bi = b + i * bStride, gai = ga + i * aStride
            let beta = Self.beta(accumulate: accumulate, entry: i, stride: aStride)
            if transposeA {
                // A stored [k, m]: dA = op(B)·dCᵀ
                BLAS.sgemm(transA: transposeB, transB: true, m: k, n: m, k: n, a: bi, lda: ldb, b: gi, ldb: n,
                           beta: beta, c: gai, ldc: m)
            } else {
                BLAS.sgemm(transA: false, transB: !transposeB, m: m, n: k, k: n, a: gi, lda: n, b: bi, ldb: ldb,
                           beta: beta, c: gai, ldc: k)
            }
        }
    }

    /// Accumulates dB: dop(B) = op(A)ᵀ·dC, stored transposed when B was.
    func gradientB(_ g: UnsafePointer<Float>, _ a: UnsafePointer<Float>, into gb: UnsafeMutablePointer<Float>,
                   accumulate: Bool = true, transposeA: Bool, transposeB: Bool) {
        let lda = transposeA ? m : k
        if !transposeA && foldsIntoM {
            let beta: Float = accumulate ? 1 : 0
            if transposeB {  // dB[n, k] = dCᵀ[n, bm] · A[bm, k]
                BLAS.sgemm(transA: true, transB: false, m: n, n: k, k: batch * m, a: g, lda: n, b: a, ldb: k,
                           beta: beta, c: gb, ldc: k)
            } else {         // dB[k, n] = Aᵀ[k, bm] · dC[bm, n]
                BLAS.sgemm(transA: true, transB: false, m: k, n: n, k: batch * m, a: a, lda: k, b: g, ldb: n,
                           beta: beta, c: gb, ldc: n)
            }
            return
        }
        for i in 0..<batch {
            let gi = g + i * m * n, ai = a + i * aStride, gbi = gb + i * bStride
            let beta = Self.beta(accumulate: accumulate, entry: i, stride: bStride)
            if transposeB {  // B stored [n, k]: dB = dCᵀ · op(A)
                BLAS.sgemm(transA: true, transB: transposeA, m: n, n: k, k: m, a: gi, lda: n, b: ai, ldb: lda,
                           beta: beta, c: gbi, ldc: k)
            } else {         // dB = op(A)ᵀ · dC
                BLAS.sgemm(transA: !transposeA, transB: false, m: k, n: n, k: m, a: ai, lda: lda, b: gi, ldb: n,
                           beta: beta, c: gbi, ldc: n)
            }
        }
    }
}
