import XCTest
@testable import Tensors

final class NormalizationTests: XCTestCase {
    /// Normalises each consecutive run of `group` values, then applies per-index affine params.
    private func reference(_ x: Tensor, group: Int, scale: (Int) -> Double, shift: (Int) -> Double,
                           eps: Double) -> [Double] {
        var out = [Double](repeating: 0, count: x.count)
        for start in stride(from: 0, to: x.count, by: group) {
            let v = (start..<start + group).map { Double(x[flat: $0]) }
            let mean = v.reduce(0, +) / Double(group)
            let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(group)
            for i in 0..<group { out[start + i] = (v[i] - mean) / (variance + eps).squareRoot() * scale(start + i) + shift(start + i) }
        }
        return out
    }

    func testLayerNormWithAndWithoutAffine() {
        var rng = Philox(seed: 1)
        let x = Tensor.normal([3, 4, 37], mean: 5, std: 2, rng: &rng)
        let w = Tensor.normal([37], rng: &rng), b = Tensor.normal([37], rng: &rng)
        for (weight, bias) in [(w, b), (w, nil), (nil, nil)] as [(Tensor?, Tensor?)] {
            let y = layerNorm(x, weight: weight, bias: bias, eps: 1e-5)
            let ref = reference(x, group: 37, scale: { Double(weight?[flat: $0 % 37] ?? 1) },
                                shift: { Double(bias?[flat: $0 % 37] ?? 0) }, eps: 1e-5)
            for i in 0..<x.count { XCTAssertEqual(Double(y[flat: i]), ref[i], accuracy: 1e-4) }
        }
        let xs = Tensor.normal([3, 7], rng: &rng), ws = Tensor.normal([7], rng: &rng), bs = Tensor.normal([7], rng: &rng)
        XCTAssertLessThan(maxGradientError(inputs: [xs, ws, bs]) { layerNorm($0[0], weight: $0[1], bias: $0[2]) }, 1e-2)
        XCTAssertLessThan(maxGradientError(inputs: [xs, ws]) { layerNorm($0[0], weight: $0[1]) }, 1e-2)
        XCTAssertLessThan(maxGradientError(inputs: [xs]) { layerNorm($0[0]) }, 1e-2)
    }

    func testGroupNormMatchesReference() {
        var rng = Philox(seed: 2)
        let x = Tensor.normal([2, 6, 5, 7], mean: -3, std: 3, rng: &rng)
        let w = Tensor.normal([6], rng: &rng), b = Tensor.normal([6], rng: &rng)
        let y = groupNorm(x, groups: 3, weight: w, bias: b, eps: 1e-6)
        let ref = reference(x, group: 2 * 35, scale: { Double(w[flat: $0 / 35 % 6]) }, shift: { Double(b[flat: $0 / 35 % 6]) },
                            eps: 1e-6)
        for i in 0..<x.count { XCTAssertEqual(Double(y[flat: i]), ref[i], accuracy: 1e-4) }

        let f = groupNormSiLU(x, groups: 3, weight: w, bias: b, eps: 1e-6)
        for i in 0..<x.count {
            let z = ref[i]
            XCTAssertEqual(Double(f[flat: i]), z / (1 + Foundation.exp(-z)), accuracy: 1e-4)
        }
    }

    func testGroupNormGradients() {
        var rng = Philox(seed: 3)
        let x = Tensor.normal([2, 4, 3, 5], rng: &rng)
        let w = Tensor.normal([4], rng: &rng), b = Tensor.normal([4], rng: &rng)
        XCTAssertLessThan(maxGradientError(inputs: [x, w, b]) { groupNorm($0[0], groups: 2, weight: $0[1], bias: $0[2]) }, 1e-2)
        XCTAssertLessThan(maxGradientError(inputs: [x, w, b]) { groupNormSiLU($0[0], groups: 2, weight: $0[1], bias: $0[2]) }, 1e-2)
        // GroupNorm ignores a constant offset, so its gradients must too (no cancellation at x + 40).
        let shifted = Tensor(x.scalars.map { $0 + 40 }, shape: x.shape)
        let (_, g0) = gradients(of: [x, w]) { groupNormSiLU($0[0], groups: 2, weight: $0[1], bias: b) }
        let (_, g1) = gradients(of: [shifted, w]) { groupNormSiLU($0[0], groups: 2, weight: $0[1], bias: b) }
        for (a, c) in zip(g0, g1) {
            let scale = a.scalars.map(abs).max()!
            for i in 0..<a.count { XCTAssertEqual(a[flat: i], c[flat: i], accuracy: 2e-3 * scale) }
        }
        // [N, C, L] layout, one channel per group, no affine.
        let x3 = Tensor.normal([2, 3, 17], rng: &rng)
        XCTAssertLessThan(maxGradientError(inputs: [x3]) { groupNormSiLU($0[0], groups: 3) }, 1e-2)
    }
}
