import XCTest
@testable import Tensors

final class ShapeOpsTests: XCTestCase {
    /// Flat index of `index` in a row-major `shape`.
    private func flat(_ index: [Int], _ shape: [Int]) -> Int {
        zip(index, contiguousStrides(shape)).reduce(0) { $0 + $1.0 * $1.1 }
    }

    private func unflat(_ i: Int, _ shape: [Int]) -> [Int] {
        var rem = i
        var index = [Int](repeating: 0, count: shape.count)
        for a in stride(from: shape.count - 1, through: 0, by: -1) { index[a] = rem % shape[a]; rem /= shape[a] }
        return index
    }

    func testReshapeInfersDimensionSharesStorageAndPassesGradient() {
        var rng = Philox(seed: 1)
        let x = Tensor.normal([2, 3, 4], rng: &rng)
        let y = x.reshaped([4, -1])
        XCTAssertEqual(y.shape, [4, 6])
        XCTAssertTrue(y.storage === x.storage)
        XCTAssertLessThan(maxGradientError(inputs: [x]) { $0[0].reshaped([-1, 3]) }, 1e-3)
    }

    func testPermuteMatchesIndexMappingForEveryPath() {
        var rng = Philox(seed: 2)
        let cases: [([Int], [Int])] = [
            ([3, 5], [1, 0]),                 // plain transpose
            ([2, 33, 37], [0, 2, 1]),         // last-two transpose, tiles with remainders
            ([2, 5, 3, 4], [0, 2, 1, 3]),     // head split [B, N, H, D] → [B, H, N, D]
            ([2, 3, 4, 5], [3, 1, 0, 2]),     // general, strided innermost
            ([2, 3, 4, 5], [2, 3, 0, 1]),     // merges into a 2-D transpose
            ([3, 4, 5], [1, 2, 0]),
        ]
        for (shape, axes) in cases {
            let x = Tensor.normal(shape, rng: &rng)
            let y = x.permuted(axes)
            let outShape = axes.map { shape[$0] }
            XCTAssertEqual(y.shape, outShape)
            for i in 0..<y.count {
                let o = unflat(i, outShape)
                var src = [Int](repeating: 0, count: shape.count)
                for (k, a) in axes.enumerated() { src[a] = o[k] }
                XCTAssertEqual(y[flat: i], x[flat: flat(src, shape)], "shape \(shape) axes \(axes) at \(o)")
            }
        }
        for (shape, axes) in [([2, 3, 4, 5], [0, 2, 1, 3]), ([3, 4, 5], [2, 0, 1]), ([2, 3, 4], [0, 2, 1])] {
            let x = Tensor.normal(shape, rng: &rng)
            XCTAssertLessThan(maxGradientError(inputs: [x]) { $0[0].permuted(axes) }, 1e-3, "axes \(axes)")
        }
    }

    func testSliceAndPad() {
        var rng = Philox(seed: 3)
        let x = Tensor.normal([3, 5, 4], rng: &rng)
        let s = x.sliced(axis: 1, range: 1..<4)
        XCTAssertEqual(s.shape, [3, 3, 4])
        for a in 0..<3 { for b in 0..<3 { for c in 0..<4 {
            XCTAssertEqual(s[flat: (a * 3 + b) * 4 + c], x[flat: (a * 5 + b + 1) * 4 + c])
        } } }
        XCTAssertLessThan(maxGradientError(inputs: [x]) { $0[0].sliced(axis: -1, range: 1..<3) }, 1e-3)

        let p = x.padded([(0, 1), (2, 0), (1, 2)], value: -7)
        XCTAssertEqual(p.shape, [4, 7, 7])
        for i in 0..<p.count {
            let o = unflat(i, p.shape)
            let src = [o[0], o[1] - 2, o[2] - 1]
            let inside = src[0] < 3 && src[1] >= 0 && src[2] >= 0 && src[2] < 4
            XCTAssertEqual(p[flat: i], inside ? x[flat: flat(src, x.shape)] : -7)
        }
        XCTAssertLessThan(maxGradientError(inputs: [x]) { $0[0].padded([(1, 0), (0, 0), (2, 3)]) }, 1e-3)
    }

    func testConcatAndStack() {
        var rng = Philox(seed: 4)
        let a = Tensor.normal([2, 3, 2], rng: &rng), b = Tensor.normal([2, 1, 2], rng: &rng), c = Tensor.normal([2, 2, 2], rng: &rng)
        let y = concat([a, b, c], axis: 1)
        XCTAssertEqual(y.shape, [2, 6, 2])
        for i in 0..<2 { for j in 0..<6 { for k in 0..<2 {
            let v = j < 3 ? a[flat: (i * 3 + j) * 2 + k] : j < 4 ? b[flat: i * 2 + k] : c[flat: (i * 2 + j - 4) * 2 + k]
            XCTAssertEqual(y[flat: (i * 6 + j) * 2 + k], v)
        } } }
        XCTAssertLessThan(maxGradientError(inputs: [a, b, c]) { concat($0, axis: 1) }, 1e-3)

        let s = stack([a, a.copy()], axis: 3)
        XCTAssertEqual(s.shape, [2, 3, 2, 2])
        for i in 0..<a.count { XCTAssertEqual(s[flat: 2 * i], a[flat: i]); XCTAssertEqual(s[flat: 2 * i + 1], a[flat: i]) }
        let d = Tensor.normal([2, 3, 2], rng: &rng)
        XCTAssertLessThan(maxGradientError(inputs: [a, d]) { stack($0, axis: 0) }, 1e-3)
    }

    func testIndexSelectGathersAndScatterAddsRepeats() {
        var rng = Philox(seed: 5)
        let table = Tensor.normal([5, 3], rng: &rng)
        let rows = [4, 0, 4, 2, 4]
        let e = embedding(table, indices: rows)
        XCTAssertEqual(e.shape, [5, 3])
        for (j, r) in rows.enumerated() { for c in 0..<3 { XCTAssertEqual(e[flat: j * 3 + c], table[flat: r * 3 + c]) } }
        let (_, grads) = gradients(of: [table]) { embedding($0[0], indices: rows) }
        for c in 0..<3 {
            XCTAssertEqual(grads[0][flat: 4 * 3 + c], 3)
            XCTAssertEqual(grads[0][flat: 1 * 3 + c], 0)
        }
        XCTAssertLessThan(maxGradientError(inputs: [table]) { embedding($0[0], indices: rows) }, 1e-3)
        let x = Tensor.normal([2, 4, 3], rng: &rng)
        XCTAssertLessThan(maxGradientError(inputs: [x]) { $0[0].indexSelect(axis: 1, indices: [3, 3, 1]) }, 1e-3)
    }
}
