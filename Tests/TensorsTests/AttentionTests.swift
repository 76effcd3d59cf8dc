import XCTest
@testable import Tensors

final class AttentionTests: XCTestCase {
    /// Full-matrix softmax attention and its gradients in Double, for one [N, D] slice.
    private struct Naive {
        var out: [Double], dq: [Double], dk: [Double], dv: [Double]

        init(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, dOut: UnsafePointer<Float>?,
             nq: Int, nk: Int, d: Int, dv dvDim: Int, scale: Double) {
            var p = [Double](repeating: 0, count: nq * nk)
            out = [Double](repeating: 0, count: nq * dvDim)
            for i in 0..<nq {
                var row = (0..<nk).map { j in (0..<d).reduce(0.0) { $0 + Double(q[i * d + $1]) * Double(k[j * d + $1]) } * scale }
                let m = row.max()!
                row = row.map { Foundation.exp($0 - m) }
                let total = row.reduce(0, +)
                for j in 0..<nk { p[i * nk + j] = row[j] / total }
                for c in 0..<dvDim { out[i * dvDim + c] = (0..<nk).reduce(0.0) { $0 + p[i * nk + $1] * Double(v[$1 * dvDim + c]) } }
            }
            dq = [Double](repeating: 0, count: nq * d); dk = [Double](repeating: 0, count: nk * d)
            dv = [Double](repeating: 0, count: nk * dvDim)
            guard let dOut else { return }
            for i in 0..<nq {
                let dp = (0..<nk).map { j in (0..<dvDim).reduce(0.0) { $0 + Double(dOut[i * dvDim + $1]) * Double(v[j * dvDim + $1]) } }
                let delta = (0..<nk).reduce(0.0) { $0 + p[i * nk + $1] * dp[$1] }
                for j in 0..<nk {
                    let ds = p[i * nk + j] * (dp[j] - delta) * scale
                    for c in 0..<d { dq[i * d + c] += ds * Double(k[j * d + c]); dk[j * d + c] += ds * Double(q[i * d + c]) }
                    for c in 0..<dvDim { dv[j * dvDim + c] += p[i * nk + j] * Double(dOut[i * dvDim + c]) }
                }
            }
        }
    }

    private func assertClose(_ a: Tensor, _ b: [Double], offset: Int, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        let scale = max(b.map(abs).max() ?? 1, 1e-6)
        var worst = 0.0
        for i in 0..<b.count { worst = max(worst, abs(Double(a[flat: offset + i]) - b[i])) }
        XCTAssertLessThan(worst / scale, 2e-5, message, file: file, line: line)
    }

    /// Runs `body` with the AVX-512 micro-kernels on and then off (OpenBLAS tiles), or only off
    /// where this CPU lacks them; restores the default.
    private func forEachTileBackend(_ body: (String) -> Void) {
        defer { AttentionTiles.microKernels = AttentionTiles.microKernelsAvailable }
        for micro in AttentionTiles.microKernelsAvailable ? [true, false] : [false] {
            AttentionTiles.microKernels = micro
            body(micro ? "micro-kernels" : "OpenBLAS")
        }
    }

    func testTiledForwardAndBackwardMatchFullMatrixAcrossTiles() {
        forEachTileBackend(checkTilesAgainstFullMatrix)
    }

    private func checkTilesAgainstFullMatrix(backend: String) {
        var rng = Philox(seed: 1)
        // Sizes cross the query and key tiles with remainders (also of the micro-kernels' 6-row
        // and 32-column register tiles); Nq ≠ Nk; Dv ≠ D; widths not multiples of 16 take OpenBLAS
        // tiles, and 80 spans a 64-wide and a 16-wide pass of the micro-kernel.
        let (qb, kb) = (AttentionGeometry.queryBlock, AttentionGeometry.keyBlock)
        for (batch, nq, nk, d, dv) in [(2, qb + 3, 2 * kb - 20, 8, 8), (1, 5, kb + 1, 16, 4), (3, qb + 72, 7, 4, 6),
                                       (2, qb + 5, kb + 37, 16, 32), (1, 7, 33, 48, 80), (1, qb + 1, 2 * kb - 20, 64, 64)] {
            let q = Tensor.normal([batch, nq, d], rng: &rng), k = Tensor.normal([batch, nk, d], rng: &rng)
            let v = Tensor.normal([batch, nk, dv], rng: &rng), seed = Tensor.normal([batch, nq, dv], rng: &rng)
            let scale = 0.7
            let tape = Tape.shared
            tape.reset()
            let (tq, tk, tv) = (q.requiringGradient(), k.requiringGradient(), v.requiringGradient())
            let out = attention(tq, tk, tv, scale: Float(scale))
            tape.backward(out, seed: seed)
            let gq = tape.gradient(of: tq)!.copy(), gk = tape.gradient(of: tk)!.copy(), gv = tape.gradient(of: tv)!.copy()
            tape.reset()
            for b in 0..<batch {
                let ref = Naive(q: q.storage.base + b * nq * d, k: k.storage.base + b * nk * d, v: v.storage.base + b * nk * dv,
                                dOut: seed.storage.base + b * nq * dv, nq: nq, nk: nk, d: d, dv: dv, scale: scale)
                let tag = "\(backend) b\(b) nq\(nq) nk\(nk) d\(d) dv\(dv)"
                assertClose(out, ref.out, offset: b * nq * dv, "out " + tag)
                assertClose(gq, ref.dq, offset: b * nq * d, "dq " + tag)
                assertClose(gk, ref.dk, offset: b * nk * d, "dk " + tag)
                assertClose(gv, ref.dv, offset: b * nk * dv, "dv " + tag)
            }
        }
    }

    /// The micro-kernels are what runs on an AVX-512 CPU at the usual head widths, and they give
    /// the OpenBLAS tiles' result up to summation order.
    func testMicroKernelsRunAndAgreeWithOpenBLASTiles() throws {
        try XCTSkipUnless(AttentionTiles.microKernelsAvailable, "this CPU has no AVX-512F")
        let geometry = AttentionGeometry(batch: 16, nq: 1024, nk: 1024, d: 64, dv: 64, scale: 0.125, heads: 8)
        XCTAssertTrue(geometry.usesMicroKernels)
        var rng = Philox(seed: 9)
        let (b, n, h, d) = (2, 300, 4, 32)
        let x = [Tensor.normal([b, n, h * d], rng: &rng), Tensor.normal([b, n, h * d], rng: &rng),
                 Tensor.normal([b, n, h * d], rng: &rng)]
        let probe = Tensor.normal([b, n, h * d], rng: &rng)
        // The output is compared element by element, not through the scalar Σ probe·out: a sum of
        // 76 800 terms cancels, so its relative difference between backends hinges on summation
        // order (1.1e-5 under OpenBLAS's Haswell kernels), not on the kernels being right.
        var results: [[Tensor]] = []
        forEachTileBackend { _ in
            let out = attention(x[0], x[1], x[2], heads: h)
            results.append([out] + gradients(of: x) { xs in (attention(xs[0], xs[1], xs[2], heads: h) * probe).sum() }.gradients)
        }
        for (name, (micro, blas)) in zip(["out", "dq", "dk", "dv"], zip(results[0], results[1])) {
            var worst: Float = 0, scale: Float = 0
            for i in 0..<micro.count { worst = max(worst, abs(micro[flat: i] - blas[flat: i])); scale = max(scale, abs(blas[flat: i])) }
            XCTAssertLessThan(worst / scale, 1e-5, name)
        }
    }

    func testGradientCheckOnMicroKernelWidths() {
        var rng = Philox(seed: 4)
        let q = Tensor.normal([1, 5, 2 * 16], rng: &rng), k = Tensor.normal([1, 9, 2 * 16], rng: &rng)
        let v = Tensor.normal([1, 9, 2 * 16], rng: &rng)
        XCTAssertLessThan(maxGradientError(inputs: [q, k, v], epsilon: 1e-2) { attention($0[0], $0[1], $0[2], heads: 2) }, 1e-2)
    }

    func testGradientCheckOnFourDimensionalHeads() {
        var rng = Philox(seed: 2)
        let q = Tensor.normal([1, 2, 5, 4], rng: &rng), k = Tensor.normal([1, 2, 7, 4], rng: &rng)
        let v = Tensor.normal([1, 2, 7, 4], rng: &rng)
        XCTAssertLessThan(maxGradientError(inputs: [q, k, v], epsilon: 1e-2) { attention($0[0], $0[1], $0[2]) }, 1e-2)
    }

    /// Heads read in place from [B, N, H·D] give exactly the split-permute-merge result, with
    /// query and key counts that cross tile edges, and gradients that pass finite differences.
    func testHeadsInPlaceMatchSplitHeads() {
        var rng = Philox(seed: 4)
        let (b, h, nq, nk, d, dv) = (2, 3, 300, 530, 8, 5)
        let q = Tensor.normal([b, nq, h * d], rng: &rng), k = Tensor.normal([b, nk, h * d], rng: &rng)
        let v = Tensor.normal([b, nk, h * dv], rng: &rng), probe = Tensor.normal([b, nq, h * dv], rng: &rng)
        func split(_ t: Tensor, _ width: Int) -> Tensor {
            t.reshaped([t.shape[0], t.shape[1], h, width]).permuted([0, 2, 1, 3])
        }
        let inPlace = gradients(of: [q, k, v]) { xs in (attention(xs[0], xs[1], xs[2], heads: h) * probe).sum() }
        let permuted = gradients(of: [q, k, v]) { xs in
            let y = attention(split(xs[0], d), split(xs[1], d), split(xs[2], dv)).permuted([0, 2, 1, 3])
            return (y.reshaped([b, nq, h * dv]) * probe).sum()
        }
        XCTAssertEqual(inPlace.value.scalars, permuted.value.scalars)
        for (name, (a, r)) in zip(["dq", "dk", "dv"], zip(inPlace.gradients, permuted.gradients)) {
            XCTAssertEqual(a.scalars, r.scalars, name)
        }
        let small = [Tensor.normal([1, 5, 2 * 4], rng: &rng), Tensor.normal([1, 7, 2 * 4], rng: &rng),
                     Tensor.normal([1, 7, 2 * 3], rng: &rng)]
        XCTAssertLessThan(maxGradientError(inputs: small, epsilon: 1e-2) { attention($0[0], $0[1], $0[2], heads: 2) }, 1e-2)
    }

    /// Sequence 6144, D = 64: forward + backward with memory linear in N (an N×N score matrix
    /// would be 151 MB); rows checked against a per-row reference, dK/dV by exact identities.
    func testLongSequenceForwardBackward() {
        var rng = Philox(seed: 3)
        let (n, d) = (6144, 64)
        let q = Tensor.normal([1, 1, n, d], rng: &rng), k = Tensor.normal([1, 1, n, d], rng: &rng)
        let v = Tensor.normal([1, 1, n, d], rng: &rng), seed = Tensor.normal([1, 1, n, d], rng: &rng)
        let tape = Tape.shared
        tape.reset()
        let (tq, tk, tv) = (q.requiringGradient(), k.requiringGradient(), v.requiringGradient())
        let out = attention(tq, tk, tv)
        tape.backward(out, seed: seed)
        let gq = tape.gradient(of: tq)!.copy(), gk = tape.gradient(of: tk)!.copy(), gv = tape.gradient(of: tv)!.copy()
        tape.reset()

        let scale = 1 / 8.0
        for i in [0, 1, 2047, 4097, n - 1] {
            // Row i alone: chunked scores over all keys in Double.
            let ref = Naive(q: q.storage.base + i * d, k: k.storage.base, v: v.storage.base, dOut: seed.storage.base + i * d,
                            nq: 1, nk: n, d: d, dv: d, scale: scale)
            assertClose(out, ref.out, offset: i * d, "out row \(i)")
            assertClose(gq, ref.dq, offset: i * d, "dq row \(i)")
        }
        // Softmax rows sum to one, so Σⱼ dVⱼ = Σᵢ dOᵢ, and each dS row sums to zero, so Σⱼ dKⱼ = 0.
        for c in 0..<d {
            var sumDV = 0.0, sumDO = 0.0, sumDK = 0.0, scaleDK = 0.0
            for j in 0..<n {
                sumDV += Double(gv[flat: j * d + c]); sumDO += Double(seed[flat: j * d + c])
                sumDK += Double(gk[flat: j * d + c]); scaleDK += abs(Double(gk[flat: j * d + c]))
            }
            XCTAssertEqual(sumDV, sumDO, accuracy: 1e-3 * max(1, abs(sumDO)))
            XCTAssertEqual(sumDK, 0, accuracy: 1e-4 * scaleDK)
        }
    }

    /// Attention's exponentials are VectorMath.exp (the vector form for rows, the scalar form for
    /// running-max corrections): accurate over the whole range softmax feeds it, zero far below.
    func testAttentionsExpAccuracyOnNonPositiveInputs() {
        var worst: Float = 0
        var x: Float = -87
        while x < 0 {
            let lanes = SIMD16<Float>((0..<16).map { min(0, x + Float($0) * 0.0137) })
            let e = VectorMath.exp(lanes)
            for l in 0..<16 {
                worst = max(worst, abs(e[l] - Foundation.exp(lanes[l])) / Foundation.exp(lanes[l]))
                XCTAssertEqual(VectorMath.exp(lanes[l]), e[l], "the scalar form has the vector's numerics")
            }
            x += 0.211
        }
        XCTAssertLessThan(worst, 4e-7)
        let tiny = VectorMath.exp(SIMD16<Float>(repeating: -1e4))
        for l in 0..<16 { XCTAssertEqual(tiny[l], 0) }
        XCTAssertEqual(VectorMath.exp(Float(0)), 1)
    }
}
