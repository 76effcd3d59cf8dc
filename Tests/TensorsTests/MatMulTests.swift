import XCTest
@testable import Tensors

final class MatMulTests: XCTestCase {
    func testForwardMatchesNaiveProduct() {
        var rng = Philox(seed: 1)
        let a = Tensor.normal([2, 3, 4], rng: &rng), b = Tensor.normal([4, 5], rng: &rng)
        let c = matmul(a, b)
        XCTAssertEqual(c.shape, [2, 3, 5])
        for bi in 0..<2 { for i in 0..<3 { for j in 0..<5 {
            var s: Float = 0
            for k in 0..<4 { s += a[flat: bi * 12 + i * 4 + k] * b[flat: k * 5 + j] }
            XCTAssertEqual(c[flat: bi * 15 + i * 5 + j], s, accuracy: 1e-5)
        } } }
    }

    func testGradientsForEveryTransposeAndBatchLayout() {
        var rng = Philox(seed: 2)
        for ta in [false, true] { for tb in [false, true] {
            for (aBatch, bBatch) in [([2], [2]), ([2], []), ([], [3]), ([], [])] {
                let (m, k, n) = (3, 4, 2)
                let a = Tensor.normal(aBatch + (ta ? [k, m] : [m, k]), rng: &rng)
                let b = Tensor.normal(bBatch + (tb ? [n, k] : [k, n]), rng: &rng)
                let err = maxGradientError(inputs: [a, b]) { matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
                XCTAssertLessThan(err, 1e-2, "ta=\(ta) tb=\(tb) batches \(aBatch) \(bBatch)")
            }
        } }
    }
}
