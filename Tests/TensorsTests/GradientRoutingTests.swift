import XCTest
@testable import Tensors

/// How gradients reach their buffers: the first write to a fresh buffer stores, later ones add;
/// a reshape shares its source's buffer.
final class GradientRoutingTests: XCTestCase {
    /// x feeds four consumers (GELU, a matmul, an add, a reshape into a subtraction): its
    /// gradient is one fresh store followed by accumulations, in whatever order they run.
    func testSeveralConsumersOfOneTensor() {
        var rng = Philox(seed: 11)
        let x = Tensor.normal([6, 5], rng: &rng), w = Tensor.normal([5, 5], rng: &rng)
        let f: ([Tensor]) -> Tensor = { xs in
            let a = gelu(xs[0]) + matmul(xs[0], xs[1])
            return (a + xs[0]) - xs[0].reshaped([30]).reshaped([6, 5]) * 0.5
        }
        XCTAssertLessThan(maxGradientError(inputs: [x, w], f), 1e-2)
        // Closed form for the linear part: d/dx Σ p∘(x + x·w − x/2) = p + p·wᵀ − p/2.
        let p = Tensor.normal([6, 5], rng: &rng)
        let g = gradients(of: [x]) { xs in ((matmul(xs[0], w) + xs[0] - xs[0] * 0.5) * p).sum() }.gradients[0]
        let expected = (p + matmul(p, w, transposeB: true) - p * 0.5).scalars
        for (a, b) in zip(g.scalars, expected) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    func testReshapeSharesItsSourcesGradientSlot() {
        let x = Tensor(zeros: [2, 3]).requiringGradient()
        let records = Tape.shared.recordCount
        let y = x.reshaped([3, 2])
        XCTAssertEqual(y.gradSlot, x.gradSlot)
        XCTAssertEqual(Tape.shared.recordCount, records)
        Tape.shared.reset()
    }
}

final class AffineTests: XCTestCase {
    /// The fused op gives matmul + bias bit for bit, forward and all three gradients, and its
    /// gradients pass finite differences; large enough for the GEMM to split across threads.
    func testMatchesMatmulPlusBias() {
        var rng = Philox(seed: 12)
        let x = Tensor.normal([300, 70], rng: &rng), w = Tensor.normal([130, 70], rng: &rng)
        let b = Tensor.normal([130], rng: &rng), p = Tensor.normal([300, 130], rng: &rng)
        let fused = gradients(of: [x, w, b]) { xs in (affine(xs[0], weight: xs[1], bias: xs[2]) * p).sum() }
        let separate = gradients(of: [x, w, b]) { xs in ((matmul(xs[0], xs[1], transposeB: true) + xs[2]) * p).sum() }
        XCTAssertEqual(fused.value.scalars, separate.value.scalars)
        for (name, (a, r)) in zip(["dx", "dw", "db"], zip(fused.gradients, separate.gradients)) {
            XCTAssertEqual(a.scalars, r.scalars, name)
        }
        let small = [Tensor.normal([4, 3], rng: &rng), Tensor.normal([5, 3], rng: &rng), Tensor.normal([5], rng: &rng)]
        XCTAssertLessThan(maxGradientError(inputs: small) { affine($0[0], weight: $0[1], bias: $0[2]) }, 1e-2)
    }
}
