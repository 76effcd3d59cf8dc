import Checkpoints
import Foundation
import Identity
import Tensors
import XCTest

/// The additive angular margin loss against PyTorch (`scripts/fixtures/make_identity_fixtures.py`)
/// and its backward against finite differences of the same formula in Double.
final class AngularMarginLossTests: XCTestCase {
    func fixture() throws -> SafetensorsFile {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/arcface_loss", withExtension: "safetensors"), "fixture missing")
        return try SafetensorsFile(path: url.path)
    }

    /// max |a − b| / max(floor, max |b|).
    func relativeError(_ a: [Float], _ b: [Float], floor: Double = 1e-3) -> Double {
        let scale = max(floor, b.map { Double(abs($0)) }.max() ?? 0)
        return zip(a, b).map { Double(abs($0 - $1)) }.max()! / scale
    }

    func testValueAndGradientsMatchPyTorch() throws {
        let f = try fixture()
        let (embeddings, centres) = (try f.tensor("input.embeddings"), try f.tensor("input.centres"))
        let labels = try f.tensor("input.labels").scalars.map { Int($0) }
        let weights = try f.tensor("input.weights").scalars
        for name in ["default", "small"] {
            let sm = try f.tensor("\(name).scale_margin").scalars
            let loss = AngularMarginLoss(scale: sm[0], margin: sm[1])
            let tape = Tape.shared
            tape.reset()
            let (e, c) = (embeddings.requiringGradient(), centres.requiringGradient())
            let value = loss(embeddings: e, centres: c, labels: labels, weights: weights)
            let expected = try f.tensor("\(name).loss").scalars[0]
            XCTAssertEqual(Double(value.item), Double(expected), accuracy: 1e-4 * Double(abs(expected)), "\(name) loss")
            tape.backward(value)
            let ge = try XCTUnwrap(tape.gradient(of: e)).scalars, gc = try XCTUnwrap(tape.gradient(of: c)).scalars
            XCTAssertLessThan(relativeError(ge, try f.tensor("\(name).grad.embeddings").scalars), 1e-3, "\(name) dL/dembeddings")
            XCTAssertLessThan(relativeError(gc, try f.tensor("\(name).grad.centres").scalars), 1e-3, "\(name) dL/dcentres")
            // The zero-weight image contributes no gradient.
            XCTAssertEqual(ge[2 * 8 ..< 3 * 8].map { abs($0) }.max(), 0)
        }
    }

    /// The loss in Double: the finite-difference reference.
    static func referenceLoss(embeddings: [Double], centres: [Double], labels: [Int], weights: [Double],
                              dimension d: Int, scale s: Double, margin m: Double) -> Double {
        func normalised(_ v: ArraySlice<Double>) -> [Double] {
            let norm = (v.reduce(0) { $0 + $1 * $1 } + 1e-12).squareRoot()
            return v.map { $0 / norm }
        }
        let classes = centres.count / d
        let w = (0..<classes).map { normalised(centres[$0 * d ..< ($0 + 1) * d]) }
        var total = 0.0
        for (i, label) in labels.enumerated() {
            let x = normalised(embeddings[i * d ..< (i + 1) * d])
            var logits = w.map { c in zip(x, c).reduce(0) { $0 + $1.0 * $1.1 } }
            let t = logits[label]
            logits[label] = t > cos(.pi - m) ? t * cos(m) - max(1 - t * t, 1e-12).squareRoot() * sin(m) : t - sin(.pi - m) * m
            let scaled = logits.map { $0 * s }
            let top = scaled.max()!
            let logSum = top + log(scaled.reduce(0) { $0 + exp($1 - top) })
            total += weights[i] * (logSum - scaled[label])
        }
        return total / weights.reduce(0, +)
    }

    func testBackwardMatchesFiniteDifferences() {
        var rng = Philox(seed: 3, stream: 1)
        let (n, classes, d) = (6, 4, 5)
        let embeddings = Tensor.uniform([n, d], low: -1, high: 1, rng: &rng)
        let centres = Tensor.uniform([classes, d], low: -1, high: 1, rng: &rng)
        let labels = [0, 1, 2, 3, 1, 0]
        let weights: [Float] = [1, 0.5, 1, 2, 1, 1]
        for (s, m) in [(Float(64), Float(0.5)), (8, 0.3)] {
            let loss = AngularMarginLoss(scale: s, margin: m)
            let error = maxGradientError(inputs: [embeddings, centres], reference: { x in
                [Self.referenceLoss(embeddings: x[0], centres: x[1], labels: labels, weights: weights.map(Double.init),
                                    dimension: d, scale: Double(s), margin: Double(m))]
            }, epsilon: 1e-5, floor: 1e-3) { loss(embeddings: $0[0], centres: $0[1], labels: labels, weights: weights) }
            XCTAssertLessThan(error, 1e-3, "s \(s), m \(m)")
        }
    }

    func testZeroWeightsGiveZeroLoss() {
        var rng = Philox(seed: 4, stream: 1)
        let value = AngularMarginLoss()(embeddings: Tensor.uniform([2, 3], low: -1, high: 1, rng: &rng),
                                        centres: Tensor.uniform([2, 3], low: -1, high: 1, rng: &rng), labels: [0, 1], weights: [0, 0])
        XCTAssertEqual(value.item, 0)
    }
}
