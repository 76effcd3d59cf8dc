import XCTest
@testable import Tensors

final class Conv2dTests: XCTestCase {
    /// The convolution in Double: x [N, Cin, H, W], w [Cout, Cin, kh, kw], flat row-major.
    private func naiveConv(_ x: [Double], _ xShape: [Int], _ w: [Double], _ wShape: [Int], _ b: [Double]?,
                           stride: (Int, Int), padding: (Int, Int)) -> [Double] {
        let (n, cin, h, wd) = (xShape[0], xShape[1], xShape[2], xShape[3])
        let (cout, kh, kw) = (wShape[0], wShape[2], wShape[3])
        let ho = (h + 2 * padding.0 - kh) / stride.0 + 1, wo = (wd + 2 * padding.1 - kw) / stride.1 + 1
        var out = [Double](repeating: 0, count: n * cout * ho * wo)
        for s in 0..<n { for o in 0..<cout { for oy in 0..<ho { for ox in 0..<wo {
            var acc = b?[o] ?? 0
            for c in 0..<cin { for i in 0..<kh { for j in 0..<kw {
                let iy = oy * stride.0 - padding.0 + i, ix = ox * stride.1 - padding.1 + j
                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                acc += x[((s * cin + c) * h + iy) * wd + ix] * w[((o * cin + c) * kh + i) * kw + j]
            } } }
            out[((s * cout + o) * ho + oy) * wo + ox] = acc
        } } } }
        return out
    }

    private func naiveConv(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride: (Int, Int), padding: (Int, Int)) -> [Double] {
        naiveConv(x.scalars.map(Double.init), x.shape, w.scalars.map(Double.init), w.shape, b.map { $0.scalars.map(Double.init) },
                  stride: stride, padding: padding)
    }

    /// Gradients of conv2d against differences of the Double convolution (exact: it is linear in
    /// each input), so the bar measures the Float gradient alone, whatever kernel computed it.
    private func gradientError(x: Tensor, w: Tensor, b: Tensor?, stride: (Int, Int), padding: (Int, Int),
                               algorithm: ConvAlgorithm) -> Double {
        let inputs = [x, w] + (b.map { [$0] } ?? [])
        return maxGradientError(inputs: inputs, reference: { v in
            self.naiveConv(v[0], x.shape, v[1], w.shape, v.count > 2 ? v[2] : nil, stride: stride, padding: padding)
        }) {
            conv2d($0[0], weight: $0[1], bias: $0.count > 2 ? $0[2] : nil, stride: stride, padding: padding, algorithm: algorithm)
        }
    }

    private struct Case { let x: [Int], w: [Int], stride: (Int, Int), padding: (Int, Int), bias: Bool }
    private let cases = [
        Case(x: [2, 3, 7, 6], w: [4, 3, 3, 3], stride: (1, 1), padding: (1, 1), bias: true),   // 3×3 same
        Case(x: [1, 2, 9, 8], w: [3, 2, 3, 3], stride: (2, 2), padding: (1, 1), bias: true),   // downsample
        Case(x: [2, 5, 4, 3], w: [3, 5, 1, 1], stride: (1, 1), padding: (0, 0), bias: true),   // pointwise
        Case(x: [1, 2, 5, 7], w: [2, 2, 2, 3], stride: (2, 1), padding: (0, 2), bias: false),  // odd shapes
        Case(x: [1, 1, 2, 2], w: [1, 1, 4, 4], stride: (2, 2), padding: (1, 1), bias: false),  // kernel wider than image
    ]

    func testForwardMatchesNaiveLoops() {
        var rng = Philox(seed: 1)
        for c in cases {
            let x = Tensor.normal(c.x, rng: &rng), w = Tensor.normal(c.w, rng: &rng)
            let b = c.bias ? Tensor.normal([c.w[0]], rng: &rng) : nil
            let y = conv2d(x, weight: w, bias: b, stride: c.stride, padding: c.padding)
            let ref = naiveConv(x, w, b, stride: c.stride, padding: c.padding)
            XCTAssertEqual(y.count, ref.count)
            for i in 0..<ref.count { XCTAssertEqual(Double(y[flat: i]), ref[i], accuracy: 1e-4, "case \(c.x) \(c.w)") }
        }
    }

    func testGradientsOfInputWeightAndBias() {
        var rng = Philox(seed: 2)
        for c in cases {
            let x = Tensor.normal(c.x, rng: &rng), w = Tensor.normal(c.w, rng: &rng)
            let b = c.bias ? Tensor.normal([c.w[0]], rng: &rng) : nil
            let err = gradientError(x: x, w: w, b: b, stride: c.stride, padding: c.padding, algorithm: .automatic)
            XCTAssertLessThan(err, 1e-4, "case \(c.x) \(c.w) stride \(c.stride)")
        }
    }

    // Winograd F(2×2, 3×3): odd and even sizes, every padding it takes, tiles cut by panels.
    private let winogradCases: [(x: [Int], cout: Int, padding: (Int, Int))] = [
        ([2, 3, 7, 6], 4, (1, 1)), ([1, 2, 5, 9], 3, (0, 2)), ([2, 2, 4, 3], 2, (2, 0)), ([1, 3, 3, 3], 2, (0, 0)),
    ]

    func testWinogradForwardMatchesNaiveLoops() {
        var rng = Philox(seed: 3)
        for c in winogradCases {
            let x = Tensor.normal(c.x, rng: &rng), w = Tensor.normal([c.cout, c.x[1], 3, 3], rng: &rng)
            let b = Tensor.normal([c.cout], rng: &rng)
            let y = conv2d(x, weight: w, bias: b, stride: (1, 1), padding: c.padding, algorithm: .winograd)
            let ref = naiveConv(x, w, b, stride: (1, 1), padding: c.padding)
            XCTAssertEqual(y.count, ref.count)
            for i in 0..<ref.count { XCTAssertEqual(Double(y[flat: i]), ref[i], accuracy: 1e-4, "case \(c.x) pad \(c.padding)") }
        }
    }

    func testWinogradGradientsOfInputWeightAndBias() {
        var rng = Philox(seed: 4)
        for c in winogradCases {
            let x = Tensor.normal(c.x, rng: &rng), w = Tensor.normal([c.cout, c.x[1], 3, 3], rng: &rng)
            let b = Tensor.normal([c.cout], rng: &rng)
            let err = gradientError(x: x, w: w, b: b, stride: (1, 1), padding: c.padding, algorithm: .winograd)
            XCTAssertLessThan(err, 1e-4, "case \(c.x) pad \(c.padding)")
        }
    }

    /// At layer sizes (automatic choice, several panels of tile rows) Winograd and im2col agree
    /// on outputs and on all three gradients: an image whose tile rows fill vectors, and narrow
    /// ones (a UNet's 8² level; 5×3, odd, panels cut mid-sample) transformed across the panel.
    func testWinogradMatchesIm2colAtLayerSizes() {
        var rng = Philox(seed: 5)
        for (shape, cout, alongRows) in [([3, 32, 45, 38], 24, true), ([40, 16, 8, 8], 24, false), ([100, 20, 5, 3], 16, false)] {
            let (n, cin, h, w) = (shape[0], shape[1], shape[2], shape[3])
            let x = Tensor.normal(shape, rng: &rng), weight = Tensor.normal([cout, cin, 3, 3], std: 0.06, rng: &rng)
            let b = Tensor.normal([cout], rng: &rng), probe = Tensor.normal([n, cout, h, w], rng: &rng)
            XCTAssertTrue(WinogradConv3x3.applies(ConvGeometry(n: n, cin: cin, h: h, w: w, cout: cout, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1)))
            let winograd = WinogradConv3x3(n: n, channelsIn: cin, channelsOut: cout, height: h, width: w, padY: 1, padX: 1)
            XCTAssertGreaterThanOrEqual(winograd.panels.count, 2, "\(shape)")
            XCTAssertEqual(winograd.vectorisedAlongRows, alongRows, "\(shape)")
            func run(_ algorithm: ConvAlgorithm) -> [[Float]] {
                let grads = gradients(of: [x, weight, b]) { xs in
                    (conv2d(xs[0], weight: xs[1], bias: xs[2], stride: (1, 1), padding: (1, 1), algorithm: algorithm) * probe).sum()
                }.gradients
                let out = withoutGradients { conv2d(x, weight: weight, bias: b, stride: (1, 1), padding: (1, 1), algorithm: algorithm) }
                return [out.scalars] + grads.map(\.scalars)
            }
            let fast = run(.automatic), reference = run(.im2col)
            for (name, (a, r)) in zip(["output", "dx", "dw", "db"], zip(fast, reference)) {
                let scale = r.map { abs($0) }.max()!
                let worst = zip(a, r).map { abs($0 - $1) }.max()!
                XCTAssertLessThan(worst, 1e-5 * scale, "\(name) of \(shape)")
            }
        }
    }
}
