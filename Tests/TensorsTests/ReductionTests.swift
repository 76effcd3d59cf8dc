import XCTest
@testable import Tensors

final class ReductionTests: XCTestCase {
    let cases: [([Int], [Int])] = [
        ([2, 3, 4], [0]), ([2, 3, 4], [1]), ([2, 3, 4], [2]), ([2, 3, 4], [0, 2]), ([2, 3, 4], [-1, -2]),
        ([2, 3, 4], [0, 1, 2]), ([5, 1, 3], [1]), ([5, 1, 3], [0, 1]), ([7], [0]), ([3, 4, 2, 5], [1, 3]), ([1, 6], [0]),
    ]

    func testSumAndMeanMatchNaive() {
        var rng = Philox(seed: 31)
        for (shape, axes) in cases {
            let x = Tensor.normal(shape, rng: &rng)
            let set = Set(axes.map { $0 < 0 ? $0 + shape.count : $0 })
            let want = Naive.sum(x, axes: set)
            let terms = Double(set.reduce(1) { $0 * shape[$1] })
            let kept = shape.indices.map { set.contains($0) ? 1 : shape[$0] }
            let dropped = shape.indices.filter { !set.contains($0) }.map { shape[$0] }
            let s = x.sum(axes: axes, keepDims: true), m = x.mean(axes: axes)
            XCTAssertEqual(s.shape, kept)
            XCTAssertEqual(m.shape, dropped)
            assertClose(s.scalars, want.map(Float.init), "sum \(shape) \(axes)")
            assertClose(m.scalars, want.map { Float($0 / terms) }, "mean \(shape) \(axes)")
        }
        let x = Tensor([1, 2, 3, 4], shape: [2, 2])
        XCTAssertEqual(x.sum().shape, [])
        XCTAssertEqual(x.sum().item, 10)
        XCTAssertEqual(x.mean().item, 2.5)
    }

    func testMaxMatchesNaiveAndTiesGoToFirst() {
        var rng = Philox(seed: 32)
        for (shape, axes) in cases {
            let x = Tensor.normal(shape, rng: &rng)
            let set = Set(axes.map { $0 < 0 ? $0 + shape.count : $0 })
            let kept = shape.indices.map { set.contains($0) ? 1 : shape[$0] }
            var want = [Float](repeating: -.infinity, count: kept.reduce(1, *))
            for i in 0..<x.count {
                let o = Naive.index(Naive.multiIndex(i, shape), into: kept)
                want[o] = Swift.max(want[o], x[flat: i])
            }
            XCTAssertEqual(x.maximum(axes: axes, keepDims: true).scalars, want, "\(shape) \(axes)")
        }
        let tied = Tensor([3, 1, 3, 2, 5, 5], shape: [2, 3])
        XCTAssertEqual(gradients(of: [tied]) { $0[0].maximum(axes: [1]).sum() }.gradients[0].scalars, [1, 0, 0, 0, 1, 0])
        XCTAssertEqual(gradients(of: [tied]) { $0[0].maximum(axes: [0]).sum() }.gradients[0].scalars, [1, 0, 0, 0, 1, 1])
        XCTAssertEqual(gradients(of: [tied]) { $0[0].maximum() }.gradients[0].scalars, [0, 0, 0, 0, 1, 0])
    }

    func testVarianceMatchesTorchDefinitions() {
        let x = Tensor([1, 2, 3, 4, 6, 8], shape: [2, 3])
        XCTAssertEqual(x.variance().item, 6.8, accuracy: 1e-5)                  // unbiased, all
        XCTAssertEqual(x.variance(correction: 0).item, 34.0 / 6, accuracy: 1e-5)
        assertClose(x.variance(axes: [1]).scalars, [1, 4])
        assertClose(x.variance(axes: [0], correction: 0, keepDims: true).scalars, [2.25, 4, 6.25])
        XCTAssertEqual(x.variance(axes: [0], keepDims: true).shape, [1, 3])
    }

    func testGradients() {
        var rng = Philox(seed: 33)
        for (shape, axes) in cases {
            let x = Tensor.normal(shape, rng: &rng)
            XCTAssertLessThan(maxGradientError(inputs: [x]) { $0[0].sum(axes: axes) }, 1e-2, "sum \(shape) \(axes)")
            XCTAssertLessThan(maxGradientError(inputs: [x]) { $0[0].mean(axes: axes, keepDims: true) }, 1e-2, "mean \(shape) \(axes)")
            XCTAssertLessThan(maxGradientError(inputs: [x], epsilon: 1e-3) { $0[0].variance(axes: axes, correction: 0) }, 1e-2,
                              "var \(shape) \(axes)")
            // Distinct, well-separated values so a finite difference never changes the argmax.
            let count = elementCount(shape)
            var order = Array(0..<count)
            for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, rng.int(below: i + 1)) }
            let spread = Tensor(order.map { Float($0) * 0.1 }, shape: shape)
            XCTAssertLessThan(maxGradientError(inputs: [spread]) { $0[0].maximum(axes: axes) }, 1e-2, "max \(shape) \(axes)")
        }
        let x = Tensor.normal([3, 4], rng: &rng)
        XCTAssertLessThan(maxGradientError(inputs: [x]) { $0[0].sum() }, 1e-2)
        XCTAssertLessThan(maxGradientError(inputs: [x]) { $0[0].mean() }, 1e-2)
        XCTAssertLessThan(maxGradientError(inputs: [x], epsilon: 1e-3) { $0[0].variance() }, 1e-2)
    }

    func testLargeSumsAreBitIdenticalAcrossThreadCountsAndAccurate() {
        var rng = Philox(seed: 34)
        let x = Tensor.uniform([1 << 21 | 4321], low: 0, high: 1, rng: &rng)
        let one = withThreads(1) { x.sum().item }, two = withThreads(2) { x.sum().item }
        XCTAssertEqual(one.bitPattern, two.bitPattern)
        var exact = 0.0
        for i in 0..<x.count { exact += Double(x[flat: i]) }
        XCTAssertEqual(Double(one), exact, accuracy: exact * 1e-6)

        // Axis reductions that split work across threads in each kernel shape.
        let m = Tensor.normal([64, 9000], rng: &rng)
        for axes in [[0], [1], [0, 1]] {
            let a = withThreads(1) { m.sum(axes: axes) }, b = withThreads(2) { m.sum(axes: axes) }
            XCTAssertEqual(a.scalars.map(\.bitPattern), b.scalars.map(\.bitPattern), "axes \(axes)")
        }
        // Tall, narrow reductions (bias gradients) are cut into fixed pieces of rows.
        for shape in [[5000, 40], [100_000, 3], [3, 70_000, 2]] {
            let t = Tensor.normal(shape, rng: &rng)
            let a = withThreads(1) { t.sum(axes: [shape.count - 2]) }, b = withThreads(2) { t.sum(axes: [shape.count - 2]) }
            XCTAssertEqual(a.scalars, b.scalars, "\(shape)")
            assertClose(a.scalars, Naive.sum(t, axes: [shape.count - 2]).map(Float.init), tolerance: 1e-5, "\(shape)")
        }
        let nchw = Tensor.normal([8, 16, 32, 32], rng: &rng)
        let a = withThreads(1) { nchw.sum(axes: [0, 2, 3]) }, b = withThreads(2) { nchw.sum(axes: [0, 2, 3]) }
        XCTAssertEqual(a.scalars, b.scalars)
        assertClose(a.scalars, Naive.sum(nchw, axes: [0, 2, 3]).map(Float.init), tolerance: 1e-4)
    }
}
