import XCTest
@testable import Tensors

final class BroadcastTests: XCTestCase {
    let shapePairs: [([Int], [Int])] = [
        ([3, 4], [3, 4]), ([1], [3, 4]), ([3, 1], [1, 4]), ([3, 4], [4]), ([2, 3, 4], [3, 1]),
        ([], [2, 3]), ([2, 3], []), ([2, 1, 4], [1, 3, 1]), ([2, 3, 5, 5], [1, 3, 1, 1]), ([5, 1], [5, 7]),
        ([4, 1, 1], [4, 2, 3]), ([1, 1], [1]), ([2, 3, 4, 5], [2, 1, 4, 1]),
    ]

    func testBroadcastShapes() {
        XCTAssertEqual(broadcastShape([3, 1], [1, 4]), [3, 4])
        XCTAssertEqual(broadcastShape([], [2, 3]), [2, 3])
        XCTAssertEqual(broadcastShape([2, 1, 4], [3, 1]), [2, 3, 4])
        XCTAssertEqual(broadcastShape([1], [0]), [0])
    }

    func testForwardMatchesNaiveReference() {
        var rng = Philox(seed: 11)
        let ops: [(String, (Tensor, Tensor) -> Tensor, (Float, Float) -> Float)] = [
            ("+", { $0 + $1 }, { $0 + $1 }), ("-", { $0 - $1 }, { $0 - $1 }),
            ("*", { $0 * $1 }, { $0 * $1 }), ("/", { $0 / $1 }, { $0 / $1 }),
            ("max", { maximum($0, $1) }, { Swift.max($0, $1) }), ("min", { minimum($0, $1) }, { Swift.min($0, $1) }),
        ]
        for (sa, sb) in shapePairs {
            let a = Tensor.normal(sa, rng: &rng), b = Tensor.uniform(sb, low: 0.5, high: 2, rng: &rng)
            for (name, op, ref) in ops {
                let got = op(a, b), want = Naive.binary(a, b, ref)
                XCTAssertEqual(got.shape, want.shape, "\(name) \(sa) \(sb)")
                assertClose(got.scalars, want.scalars, tolerance: 0, "\(name) \(sa) \(sb)")
            }
        }
    }

    func testLargeBroadcastsAcrossThreadsMatchNaive() {
        // Bias over rows and per-channel over NCHW, big enough to split across threads.
        var rng = Philox(seed: 12)
        for (sa, sb) in [([300, 257], [257]), ([4, 16, 33, 31], [1, 16, 1, 1]), ([70_001], [1])] {
            let a = Tensor.normal(sa, rng: &rng), b = Tensor.normal(sb, rng: &rng)
            let want = Naive.binary(a, b, *)
            for threads in [1, 2] {
                let got = withThreads(threads) { a * b }
                assertClose(got.scalars, want.scalars, tolerance: 0, "\(sa) \(sb) threads \(threads)")
            }
        }
    }

    func testLargeBroadcastGradientsAreDeterministicAndExact() {
        var rng = Philox(seed: 17)
        let x = Tensor.normal([8, 16, 24, 24], rng: &rng), scale = Tensor.normal([1, 16, 1, 1], rng: &rng)
        let one = withThreads(1) { gradients(of: [x, scale]) { ($0[0] * $0[1] / ($0[1] + 5)).sum() } }
        let two = withThreads(2) { gradients(of: [x, scale]) { ($0[0] * $0[1] / ($0[1] + 5)).sum() } }
        XCTAssertEqual(one.gradients[0].scalars, two.gradients[0].scalars)
        XCTAssertEqual(one.gradients[1].scalars, two.gradients[1].scalars)
        // d/ds Σ x·s/(s+5) = Σ_c x · 5/(s+5)²
        let perChannel = Naive.sum(x, axes: [0, 2, 3])
        for c in 0..<16 {
            let s = Double(scale[flat: c])
            XCTAssertEqual(Double(one.gradients[1][flat: c]), perChannel[c] * 5 / ((s + 5) * (s + 5)), accuracy: 1e-3)
        }
    }

    func testGradientsOverBroadcastShapes() {
        var rng = Philox(seed: 13)
        for (sa, sb) in shapePairs where elementCount(broadcastShape(sa, sb)) <= 120 {
            let a = Tensor.normal(sa, rng: &rng), b = Tensor.uniform(sb, low: 0.5, high: 2, rng: &rng)
            let ops: [(String, (Tensor, Tensor) -> Tensor)] = [("+", { $0 + $1 }), ("-", { $0 - $1 }), ("*", { $0 * $1 }), ("/", { $0 / $1 })]
            for (name, op) in ops {
                let err = maxGradientError(inputs: [a, b], epsilon: 1e-3) { op($0[0], $0[1]) }
                XCTAssertLessThan(err, 1e-2, "\(name) \(sa) \(sb)")
            }
        }
    }

    func testMaximumMinimumGradientsAndTies() {
        var rng = Philox(seed: 14)
        // Values kept apart so the finite difference never crosses a kink.
        let a = Tensor((0..<12).map { Float($0 % 5) * 0.3 - 0.6 }, shape: [3, 4])
        let b = Tensor.uniform([4], low: -0.45, high: -0.35, rng: &rng)
        for op in [maximum, minimum] {
            XCTAssertLessThan(maxGradientError(inputs: [a, b], epsilon: 1e-3) { op($0[0], $0[1]) }, 1e-2)
        }
        // Ties share the gradient half and half, as PyTorch.
        let (_, grads) = gradients(of: [Tensor([1, 2], shape: [2]), Tensor([1, 1], shape: [2])]) { maximum($0[0], $0[1]).sum() }
        XCTAssertEqual(grads[0].scalars, [0.5, 1])
        XCTAssertEqual(grads[1].scalars, [0.5, 0])
    }

    func testScalarForms() {
        let t = Tensor([1, -2, 4], shape: [3])
        XCTAssertEqual((t * 2).scalars, [2, -4, 8])
        XCTAssertEqual((2 * t).scalars, [2, -4, 8])
        XCTAssertEqual((t + 1).scalars, [2, -1, 5])
        XCTAssertEqual((1 + t).scalars, [2, -1, 5])
        XCTAssertEqual((t - 1).scalars, [0, -3, 3])
        XCTAssertEqual((2 - t).scalars, [1, 4, -2])
        XCTAssertEqual((t / 2).scalars, [0.5, -1, 2])
        XCTAssertEqual((4 / t).scalars, [4, -2, 1])
        XCTAssertEqual((-t).scalars, [-1, 2, -4])
        var u = t
        u += t; u *= 2; u -= 1; u /= Tensor(scalar: 2)
        XCTAssertEqual(u.scalars, [1.5, -4.5, 7.5])
        let x = Tensor([0.5, -1.5, 2, 3], shape: [2, 2])
        let forms: [(Tensor) -> Tensor] = [{ $0 * 3 }, { 2 - $0 }, { $0 / 4 }, { 3 / $0 }, { -$0 + 1 }]
        for (i, f) in forms.enumerated() {
            XCTAssertLessThan(maxGradientError(inputs: [x], epsilon: 1e-3) { f($0[0]) }, 1e-2, "form \(i)")
        }
    }

    func testSelectBroadcastsAndRoutesGradients() {
        let cond = Tensor([1, 0, 0, 1], shape: [2, 2])
        let a = Tensor([10, 20], shape: [1, 2]), b = Tensor(scalar: -1)
        XCTAssertEqual(select(where: cond, a, b).scalars, [10, -1, -1, 20])
        let (_, grads) = gradients(of: [a, b]) { select(where: cond, $0[0], $0[1]).sum() }
        XCTAssertEqual(grads[0].scalars, [1, 1])
        XCTAssertEqual(grads[1].scalars, [2])
        var rng = Philox(seed: 15)
        let x = Tensor.normal([3, 4], rng: &rng), y = Tensor.normal([4], rng: &rng)
        let mask = Tensor((0..<12).map { Float($0 % 3 == 0 ? 1 : 0) }, shape: [3, 4])
        XCTAssertLessThan(maxGradientError(inputs: [x, y]) { select(where: mask, $0[0], $0[1]) }, 1e-2)
    }

    func testBroadcastToAndItsGradient() {
        var rng = Philox(seed: 16)
        let x = Tensor.normal([3, 1], rng: &rng)
        let y = x.broadcast(to: [2, 3, 4])
        XCTAssertEqual(y.shape, [2, 3, 4])
        assertClose(y.scalars, Naive.binary(x, Tensor(zeros: [2, 3, 4]), { a, _ in a }).scalars, tolerance: 0)
        XCTAssertLessThan(maxGradientError(inputs: [x]) { $0[0].broadcast(to: [2, 3, 4]) }, 1e-2)
    }
}
