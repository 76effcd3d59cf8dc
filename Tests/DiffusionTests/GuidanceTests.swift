import Diffusion
import Tensors
import XCTest

final class GuidanceTests: XCTestCase {
    func testGuidanceExtrapolatesFromTheUnconditionalPrediction() {
        let unconditional = Tensor([1, -2, 0.5, 4], shape: [2, 2]), conditional = Tensor([3, -2, -0.5, 0], shape: [2, 2])
        let guided = ClassifierFreeGuidance(scale: 3)(unconditional: unconditional, conditional: conditional)
        XCTAssertEqual(guided.scalars, [7, -2, -2.5, -8])  // u + 3·(c − u)
        XCTAssertEqual(ClassifierFreeGuidance(scale: 1)(unconditional: unconditional, conditional: conditional).scalars, conditional.scalars)
        XCTAssertEqual(ClassifierFreeGuidance(scale: 0)(unconditional: unconditional, conditional: conditional).scalars, unconditional.scalars)
        // One batched pass, unconditional rows first (diffusers' chunk(2)).
        let stacked = Tensor([1, -2, 0.5, 4, 3, -2, -0.5, 0], shape: [4, 2])
        XCTAssertEqual(ClassifierFreeGuidance(scale: 3)(stacked: stacked).scalars, [7, -2, -2.5, -8])
        XCTAssertTrue(ClassifierFreeGuidance(scale: 3).isActive)
        XCTAssertFalse(ClassifierFreeGuidance(scale: 1).isActive)
    }

    /// The weighted loss against a Double evaluation, and its gradient.
    func testWeightedMSELoss() {
        var rng = Philox(seed: 9)
        let prediction = Tensor.normal([4, 3], rng: &rng), target = Tensor.normal([4, 3], rng: &rng)
        let weights: [Float] = [0.5, 2]  // rows 0–1 and rows 2–3
        var expected = 0.0
        for g in 0..<2 {
            var sum = 0.0
            for i in (g * 6)..<(g * 6 + 6) { let d = Double(prediction[flat: i] - target[flat: i]); sum += d * d }
            expected += Double(weights[g]) * sum / 6 / 2
        }
        XCTAssertEqual(Double(weightedMSELoss(prediction, target, weights: weights).item), expected, accuracy: 1e-6)
        XCTAssertEqual(weightedMSELoss(prediction, target, weights: [1, 1, 1, 1]).item, mseLoss(prediction, target).item, accuracy: 1e-6)
        let error = maxGradientError(inputs: [prediction]) { weightedMSELoss($0[0], target, weights: weights) }
        XCTAssertLessThan(error, 1e-2)
    }
}
