import XCTest
@testable import Tensors

final class PoolingTests: XCTestCase {
    /// (shape, kernel, stride): even and odd sizes, overlapping windows, stride past the kernel.
    private let cases: [([Int], Int, Int)] = [
        ([2, 3, 8, 6], 2, 2), ([1, 2, 7, 5], 2, 2), ([2, 1, 9, 8], 3, 2),
        ([1, 2, 5, 6], 3, 1), ([1, 3, 7, 7], 2, 3), ([1, 1, 3, 4], 3, 3),
    ]

    /// Brute force over every window; `reduce` sees the window's values in row-major order.
    private func naivePool(_ x: Tensor, kernel: Int, stride: Int, _ reduce: ([Float]) -> Float) -> (shape: [Int], values: [Float]) {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let ho = (h - kernel) / stride + 1, wo = (w - kernel) / stride + 1
        var out: [Float] = []
        for p in 0..<(n * c) { for oy in 0..<ho { for ox in 0..<wo {
            var window: [Float] = []
            for i in 0..<kernel { for j in 0..<kernel { window.append(x[flat: (p * h + oy * stride + i) * w + ox * stride + j]) } }
            out.append(reduce(window))
        } } }
        return ([n, c, ho, wo], out)
    }

    /// Distinct values at least 0.1 apart in random order: no two are within a finite-difference
    /// step of each other, so the winner of each window is stable under the perturbation.
    private func withoutTies(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = Philox(seed: seed)
        var values = (0..<elementCount(shape)).map { Float($0) * 0.1 - 1 }
        for i in stride(from: values.count - 1, to: 0, by: -1) { values.swapAt(i, rng.int(below: i + 1)) }
        return Tensor(values, shape: shape)
    }

    func testMaxForwardMatchesBruteForce() {
        var rng = Philox(seed: 1)
        for (shape, k, s) in cases {
            let x = Tensor.normal(shape, rng: &rng)
            let y = maxPool2d(x, kernel: k, stride: s)
            let ref = naivePool(x, kernel: k, stride: s) { $0.max()! }
            XCTAssertEqual(y.shape, ref.shape, "\(shape) k\(k) s\(s)")
            XCTAssertEqual(y.scalars, ref.values, "\(shape) k\(k) s\(s)")
        }
    }

    func testMaxGradientMatchesFiniteDifferences() {
        for (n, (shape, k, s)) in cases.enumerated() {
            let x = withoutTies(shape, seed: UInt64(10 + n))
            XCTAssertLessThan(maxGradientError(inputs: [x]) { maxPool2d($0[0], kernel: k, stride: s) }, 1e-3, "\(shape) k\(k) s\(s)")
        }
    }

    /// Ties go to the first maximum in row-major window order, the whole gradient to it; a window
    /// overlapping its neighbour adds both gradients into the shared winner.
    func testTiesAndOverlapAreDeterministic() {
        let x = Tensor([1, 1, 1, 1], shape: [1, 1, 2, 2])
        let (_, tie) = gradients(of: [x]) { maxPool2d($0[0]).sum() }
        XCTAssertEqual(tie[0].scalars, [1, 0, 0, 0])

        // Kernel 2, stride 1 over 2×3: both windows hold the 5.
        let y = Tensor([0, 5, 0,
                        0, 0, 0], shape: [1, 1, 2, 3])
        let (value, shared) = gradients(of: [y]) { maxPool2d($0[0], kernel: 2, stride: 1).sum() }
        XCTAssertEqual(value.item, 10)
        XCTAssertEqual(shared[0].scalars, [0, 2, 0, 0, 0, 0])
    }

    func testMaxPropagatesNaN() {
        let x = Tensor([1, .nan, 3, 2], shape: [1, 1, 2, 2])
        XCTAssertTrue(maxPool2d(x).item.isNaN)
    }

    func testAvgForwardAndGradient() {
        var rng = Philox(seed: 2)
        for (shape, k, s) in cases {
            let x = Tensor.normal(shape, rng: &rng)
            let y = avgPool2d(x, kernel: k, stride: s)
            let ref = naivePool(x, kernel: k, stride: s) { $0.reduce(0, +) / Float($0.count) }
            XCTAssertEqual(y.shape, ref.shape)
            for i in 0..<ref.values.count { XCTAssertEqual(y[flat: i], ref.values[i], accuracy: 1e-5, "\(shape) k\(k) s\(s)") }
            XCTAssertLessThan(maxGradientError(inputs: [x]) { avgPool2d($0[0], kernel: k, stride: s) }, 1e-2, "\(shape) k\(k) s\(s)")
        }
    }

    /// Untracked inputs record nothing (inference pays no winner buffer and no tape entry).
    func testUntrackedRecordsNothing() {
        Tape.shared.reset()
        var rng = Philox(seed: 3)
        _ = maxPool2d(Tensor.normal([1, 2, 4, 4], rng: &rng))
        XCTAssertEqual(Tape.shared.recordCount, 0)
    }
}
