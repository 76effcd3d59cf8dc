import XCTest
@testable import Tensors

final class ResizeTests: XCTestCase {
    func testNearestUpsampleRepeatsPixels() {
        var rng = Philox(seed: 1)
        let x = Tensor.normal([2, 3, 3, 5], rng: &rng)
        let y = x.upsampledNearest(factor: 2)
        XCTAssertEqual(y.shape, [2, 3, 6, 10])
        for p in 0..<6 { for oy in 0..<6 { for ox in 0..<10 {
            XCTAssertEqual(y[flat: (p * 6 + oy) * 10 + ox], x[flat: (p * 3 + oy / 2) * 5 + ox / 2])
        } } }
        XCTAssertLessThan(maxGradientError(inputs: [x]) { $0[0].upsampledNearest(factor: 3) }, 1e-3)
    }

    func testBilinearMatchesPyTorchValues() {
        // F.interpolate(torch.tensor([[[[1., 2.]]]]), size=(1, 4), mode="bilinear", align_corners=False)
        let up = Tensor([1, 2], shape: [1, 1, 1, 2]).resizedBilinear(height: 1, width: 4)
        XCTAssertEqual(up.scalars, [1, 1.25, 1.75, 2])
        // Downsampling [1, 2, 3, 4] to 2 samples at source 0.5 and 2.5.
        let down = Tensor([1, 2, 3, 4], shape: [1, 1, 1, 4]).resizedBilinear(height: 1, width: 2)
        XCTAssertEqual(down.scalars, [1.5, 3.5])
        // 2×2 → 3×3: centre = mean of all four; corners stay.
        let sq = Tensor([0, 1, 2, 3], shape: [1, 1, 2, 2]).resizedBilinear(height: 3, width: 3)
        XCTAssertEqual(sq[flat: 4], 1.5, accuracy: 1e-6)
        XCTAssertEqual(sq[flat: 0], 0, accuracy: 1e-6)
        XCTAssertEqual(sq[flat: 8], 3, accuracy: 1e-6)
    }

    func testBilinearAgainstNaiveAndGradient() {
        var rng = Philox(seed: 2)
        let x = Tensor.normal([1, 2, 5, 7], rng: &rng)
        let (oh, ow) = (8, 4)
        let y = x.resizedBilinear(height: oh, width: ow)
        func sample(_ p: Int, _ fy: Double, _ fx: Double) -> Double {
            // Separable linear interpolation at fractional source coordinates, edge-clamped.
            let y0 = Int(fy), x0 = Int(fx), y1 = min(y0 + 1, 4), x1 = min(x0 + 1, 6)
            let ly = fy - Double(y0), lx = fx - Double(x0)
            func v(_ yy: Int, _ xx: Int) -> Double { Double(x[flat: (p * 5 + yy) * 7 + xx]) }
            return (1 - ly) * ((1 - lx) * v(y0, x0) + lx * v(y0, x1)) + ly * ((1 - lx) * v(y1, x0) + lx * v(y1, x1))
        }
        for p in 0..<2 { for oy in 0..<oh { for ox in 0..<ow {
            let fy = max(0, (Double(oy) + 0.5) * 5 / Double(oh) - 0.5), fx = max(0, (Double(ox) + 0.5) * 7 / Double(ow) - 0.5)
            XCTAssertEqual(Double(y[flat: (p * oh + oy) * ow + ox]), sample(p, fy, fx), accuracy: 1e-5)
        } } }
        XCTAssertLessThan(maxGradientError(inputs: [x]) { $0[0].resizedBilinear(height: oh, width: ow) }, 1e-2)
        XCTAssertLessThan(maxGradientError(inputs: [x]) { $0[0].resizedBilinear(height: 3, width: 11) }, 1e-2)
    }
}
