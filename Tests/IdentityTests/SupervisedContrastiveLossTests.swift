import Checkpoints
import Foundation
import Identity
import Tensors
import XCTest

/// The supervised contrastive loss against `pytorch-metric-learning`'s `SupConLoss`
/// (`scripts/fixtures/supcon_fixture.py`), its backward against finite differences, and the
/// images it leaves out.
final class SupervisedContrastiveLossTests: XCTestCase {
    func testValueAndGradientMatchPytorchMetricLearning() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/supcon_loss", withExtension: "safetensors"), "fixture missing")
        let f = try SafetensorsFile(path: url.path)
        let embeddings = try f.tensor("embeddings")
        let labels: [Int?] = try f.tensor("labels").scalars.map { Int($0) }
        for t in ["0.1", "0.5"] {
            let tape = Tape.shared
            tape.reset()
            let e = embeddings.requiringGradient()
            let value = SupervisedContrastiveLoss(temperature: Float(t)!)(embeddings: e, labels: labels)
            let expected = try f.tensor("loss.t\(t)").item
            XCTAssertEqual(value.item, expected, accuracy: 1e-5 * abs(expected), "τ \(t)")
            tape.backward(value)
            let got = try XCTUnwrap(tape.gradient(of: e)).scalars, reference = try f.tensor("grad.t\(t)").scalars
            let scale = reference.map(abs).max()!
            XCTAssertLessThan(zip(got, reference).map { abs($0 - $1) }.max()! / scale, 1e-4, "τ \(t) gradient")
        }
    }

    func testBackwardMatchesFiniteDifferences() {
        var rng = Philox(seed: 5, stream: 2)
        let embeddings = Tensor.uniform([7, 4], low: -1, high: 1, rng: &rng)
        let labels: [Int?] = [0, 1, 0, nil, 1, 2, 0]
        let loss = SupervisedContrastiveLoss(temperature: 0.3)
        let error = maxGradientError(inputs: [embeddings], epsilon: 1e-3, floor: 1e-3) { loss(embeddings: $0[0], labels: labels) }
        XCTAssertLessThan(error, 2e-2)
    }

    /// An unlabelled image is neither anchor, positive nor negative: the loss equals the loss
    /// of the batch without it, and it gets no gradient.
    func testUnlabelledImagesTakeNoPart() {
        var rng = Philox(seed: 9, stream: 0)
        let embeddings = Tensor.uniform([6, 5], low: -1, high: 1, rng: &rng)
        let loss = SupervisedContrastiveLoss(temperature: 0.2)
        let kept = [0, 1, 2, 4, 5]
        let without = loss(embeddings: embeddings.indexSelect(axis: 0, indices: kept), labels: [0, 1, 0, 1, 0]).item
        let tape = Tape.shared
        tape.reset()
        let e = embeddings.requiringGradient()
        let value = loss(embeddings: e, labels: [0, 1, 0, nil, 1, 0])
        XCTAssertEqual(value.item, without, accuracy: 1e-6 * abs(without))
        tape.backward(value)
        let g = tape.gradient(of: e)!.scalars
        XCTAssertEqual(g[15..<20].map(abs).max(), 0)
        XCTAssertGreaterThan(g[0..<5].map(abs).max()!, 0)
        // Nobody with a positive: zero, with a gradient of zeros.
        XCTAssertEqual(loss(embeddings: embeddings, labels: [0, 1, 2, 3, nil, 5]).item, 0)
    }
}
