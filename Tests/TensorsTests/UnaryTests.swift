import XCTest
import Foundation
@testable import Tensors

final class UnaryTests: XCTestCase {
    /// Inputs over a wide range, with lengths that exercise the vector tail.
    func samples(_ n: Int = 203, low: Float = -12, high: Float = 12) -> Tensor {
        Tensor((0..<n).map { low + (high - low) * Float($0) / Float(n - 1) }, shape: [n])
    }

    func check(_ name: String, _ op: (Tensor) -> Tensor, _ ref: (Double) -> Double, input: Tensor,
               relative: Double = 2e-6, absolute: Double = 1e-7) {
        let y = op(input)
        XCTAssertEqual(y.shape, input.shape)
        for i in 0..<input.count {
            let want = Double(Float(ref(Double(input[flat: i])))), got = Double(y[flat: i])
            if want.isNaN { XCTAssertTrue(got.isNaN, "\(name)(\(input[flat: i]))"); continue }
            if want.isInfinite { XCTAssertEqual(got, want, "\(name)(\(input[flat: i]))"); continue }
            XCTAssertLessThanOrEqual(abs(got - want), absolute + relative * abs(want), "\(name)(\(input[flat: i])) = \(got), want \(want)")
        }
    }

    func testMathFunctionsMatchDoubleReferences() {
        let x = samples()
        let positive = samples(157, low: 1e-3, high: 50)
        check("exp", exp, Foundation.exp, input: samples(301, low: -110, high: 95))
        check("log", log, Foundation.log, input: positive)
        check("sqrt", sqrt, Foundation.sqrt, input: positive)
        check("square", square, { $0 * $0 }, input: x)
        check("abs", abs, Swift.abs, input: x)
        check("pow 2.5", { pow($0, 2.5) }, { Foundation.pow($0, 2.5) }, input: positive)
        check("pow 3", { pow($0, 3) }, { $0 * $0 * $0 }, input: x)
        check("pow -0.5", { pow($0, -0.5) }, { 1 / Foundation.sqrt($0) }, input: positive)
        check("clamp", { clamp($0, min: -1, max: 2) }, { Swift.min(Swift.max($0, -1), 2) }, input: x)
        check("tanh", tanh, Foundation.tanh, input: samples(401, low: -20, high: 20))
        check("sigmoid", sigmoid, { 1 / (1 + Foundation.exp(-$0)) }, input: samples(301, low: -100, high: 100))
        check("relu", relu, { Swift.max($0, 0) }, input: x)
        check("silu", silu, { $0 / (1 + Foundation.exp(-$0)) }, input: x)
        check("softplus", { softplus($0) }, { $0 > 20 ? $0 : Foundation.log1p(Foundation.exp($0)) },
              input: samples(301, low: -30, high: 40))
        check("softplus β=2", { softplus($0, beta: 2, threshold: 10) }, { 2 * $0 > 10 ? $0 : Foundation.log1p(Foundation.exp(2 * $0)) / 2 },
              input: samples(101, low: -10, high: 10))
        check("gelu", { gelu($0) }, { $0 * 0.5 * (1 + Foundation.erf($0 / 2.0.squareRoot())) }, input: x, absolute: 1e-6)
        check("gelu tanh", { gelu($0, approximate: .tanh) },
              { 0.5 * $0 * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) }, input: x)
    }

    func testEdgeValues() {
        XCTAssertEqual(exp(Tensor([0, -200, 200, .infinity, -.infinity], shape: [5])).scalars, [1, 0, .infinity, .infinity, 0])
        let l = log(Tensor([0, -1, 1, .infinity, 1e-40], shape: [5])).scalars
        XCTAssertEqual(l[0], -.infinity); XCTAssertTrue(l[1].isNaN); XCTAssertEqual(l[2], 0); XCTAssertEqual(l[3], .infinity)
        XCTAssertEqual(Double(l[4]), Foundation.log(1e-40), accuracy: 1e-4)
        XCTAssertTrue(exp(Tensor([.nan], shape: [1])).item.isNaN)
        XCTAssertEqual(sigmoid(Tensor([-200, 200], shape: [2])).scalars, [0, 1])
        XCTAssertEqual(tanh(Tensor([-50, 50, 0], shape: [3])).scalars, [-1, 1, 0])
        XCTAssertEqual(softplus(Tensor([30], shape: [1])).item, 30)
        XCTAssertEqual(softplus(Tensor([0], shape: [1])).item, Float(Foundation.log(2.0)), accuracy: 1e-7)
    }

    func testGELUMatchesPyTorchValues() {
        let x = Tensor([1, -1, 0.5, 2, -3], shape: [5])
        // torch.nn.functional.gelu(x) and gelu(x, approximate='tanh'), float32.
        assertClose(gelu(x).scalars, [0.8413447, -0.1586553, 0.3457312, 1.9544997, -0.0040497], tolerance: 2e-6)
        assertClose(gelu(x, approximate: .tanh).scalars, [0.8411920, -0.1588080, 0.3457140, 1.9545977, -0.0036374], tolerance: 2e-6)
    }

    func testUnaryGradients() {
        var rng = Philox(seed: 21)
        let general = Tensor.normal([3, 7], rng: &rng)
        let positive = Tensor.uniform([2, 9], low: 0.5, high: 3, rng: &rng)
        // Away from the kinks of abs, relu and clamp.
        let kinked = Tensor((0..<18).map { (Float($0) - 8.5) * 0.23 }, shape: [18])
        let cases: [(String, Tensor, (Tensor) -> Tensor)] = [
            ("exp", general, exp), ("log", positive, log), ("sqrt", positive, sqrt), ("square", general, square),
            ("pow 2.5", positive, { pow($0, 2.5) }), ("pow -1", positive, { pow($0, -1) }), ("pow 3", general, { pow($0, 3) }),
            ("abs", kinked, abs), ("relu", kinked, relu), ("clamp", kinked, { clamp($0, min: -0.9, max: 1.1) }),
            ("neg", general, { -$0 }), ("sigmoid", general, sigmoid), ("tanh", general, tanh), ("silu", general, silu),
            ("softplus", general * 4, { softplus($0) }), ("softplus thr", general * 4, { softplus($0, beta: 3, threshold: 2) }),
            ("gelu", general * 2, { gelu($0) }), ("gelu tanh", general * 2, { gelu($0, approximate: .tanh) }),
        ]
        for (name, x, f) in cases {
            XCTAssertLessThan(maxGradientError(inputs: [x], epsilon: 1e-3) { f($0[0]) }, 1e-2, name)
        }
    }

    func testSubgradientsAtKinksFollowPyTorch() {
        let zero = Tensor([0, 0], shape: [2])
        XCTAssertEqual(gradients(of: [zero]) { relu($0[0]).sum() }.gradients[0].scalars, [0, 0])
        XCTAssertEqual(gradients(of: [zero]) { abs($0[0]).sum() }.gradients[0].scalars, [0, 0])
        let edges = Tensor([-1, 1, 2], shape: [3])
        XCTAssertEqual(gradients(of: [edges]) { clamp($0[0], min: -1, max: 1).sum() }.gradients[0].scalars, [1, 1, 0])
    }

    func testLargeTensorsAreIdenticalAcrossThreadCounts() {
        var rng = Philox(seed: 22)
        let x = Tensor.normal([100_003], rng: &rng)
        let one = withThreads(1) { gradients(of: [x]) { gelu($0[0]).sum() } }
        let two = withThreads(2) { gradients(of: [x]) { gelu($0[0]).sum() } }
        XCTAssertEqual(one.value.item.bitPattern, two.value.item.bitPattern)
        XCTAssertEqual(one.gradients[0].scalars, two.gradients[0].scalars)
    }
}
