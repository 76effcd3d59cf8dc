import XCTest
@testable import Tensors

final class SSIMTests: XCTestCase {
    /// 1 − mean SSIM with a direct 11×11 window in Double ('valid' positions only).
    private func referenceLoss(_ x: [Double], _ y: [Double], planes: Int, h: Int, w: Int) -> Double {
        let g1 = (0..<11).map { Foundation.exp(-Double(($0 - 5) * ($0 - 5)) / (2 * 1.5 * 1.5)) }
        let norm = g1.reduce(0, +)
        let g = g1.map { $0 / norm }
        let (c1, c2) = (1e-4, 9e-4)
        var total = 0.0
        for p in 0..<planes { for r in 0...(h - 11) { for c in 0...(w - 11) {
            var m1 = 0.0, m2 = 0.0, e11 = 0.0, e22 = 0.0, e12 = 0.0
            for i in 0..<11 { for j in 0..<11 {
                let k = g[i] * g[j], a = x[(p * h + r + i) * w + c + j], b = y[(p * h + r + i) * w + c + j]
                m1 += k * a; m2 += k * b; e11 += k * a * a; e22 += k * b * b; e12 += k * a * b
            } }
            let s = (2 * m1 * m2 + c1) * (2 * (e12 - m1 * m2) + c2)
                / ((m1 * m1 + m2 * m2 + c1) * (e11 - m1 * m1 + e22 - m2 * m2 + c2))
            total += s
        } } }
        return 1 - total / Double(planes * (h - 10) * (w - 10))
    }

    func testIdenticalImagesHaveZeroLoss() {
        var rng = Philox(seed: 1)
        let x = Tensor.uniform([1, 3, 16, 16], rng: &rng)
        XCTAssertEqual(ssimLoss(x, x).item, 0, accuracy: 1e-5)
    }

    func testForwardAndGradientsMatchDoubleReference() {
        var rng = Philox(seed: 2)
        let (planes, h, w) = (2, 14, 13)
        let x = Tensor.uniform([1, planes, h, w], rng: &rng)
        // A related target, so SSIM is far from both 0 and 1.
        let noise = Tensor.uniform([1, planes, h, w], low: -0.3, high: 0.3, rng: &rng)
        let y = Tensor(zip(x.scalars, noise.scalars).map { min(1, max(0, $0 + $1)) }, shape: x.shape)
        let xd = x.scalars.map(Double.init), yd = y.scalars.map(Double.init)
        let refLoss = referenceLoss(xd, yd, planes: planes, h: h, w: w)
        XCTAssertEqual(Double(ssimLoss(x, y).item), refLoss, accuracy: 1e-5)
        XCTAssertGreaterThan(refLoss, 0.05)

        let (_, grads) = gradients(of: [x, y]) { ssimLoss($0[0], $0[1]) }
        // Central differences of the Double reference at a sample of pixels (every 7th).
        for (which, grad) in grads.enumerated() {
            let scaleRef = grad.scalars.map { abs(Double($0)) }.max()!
            for i in stride(from: 0, to: x.count, by: 7) {
                var plus = which == 0 ? xd : yd, minus = plus
                plus[i] += 1e-5; minus[i] -= 1e-5
                let numeric = which == 0
                    ? (referenceLoss(plus, yd, planes: planes, h: h, w: w) - referenceLoss(minus, yd, planes: planes, h: h, w: w)) / 2e-5
                    : (referenceLoss(xd, plus, planes: planes, h: h, w: w) - referenceLoss(xd, minus, planes: planes, h: h, w: w)) / 2e-5
                XCTAssertEqual(Double(grad[flat: i]), numeric, accuracy: 1e-3 * scaleRef, "input \(which) pixel \(i)")
            }
        }
    }
}
