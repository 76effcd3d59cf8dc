import XCTest
import Foundation
@testable import Tensors

final class SoftmaxLossDropoutTests: XCTestCase {
    func naiveSoftmax(_ row: [Float]) -> [Double] {
        let m = Double(row.max()!)
        let e = row.map { Foundation.exp(Double($0) - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    func testSoftmaxMatchesReferenceAndSurvivesLargeLogits() {
        var rng = Philox(seed: 41)
        for shape in [[5], [3, 17], [2, 3, 40], [4, 1]] {
            let x = Tensor.normal(shape, std: 3, rng: &rng)
            let n = shape.last!
            let y = softmax(x), ly = logSoftmax(x)
            for r in 0..<(x.count / n) {
                let row = (0..<n).map { x[flat: r * n + $0] }
                let want = naiveSoftmax(row)
                for j in 0..<n {
                    XCTAssertEqual(Double(y[flat: r * n + j]), want[j], accuracy: 1e-6)
                    XCTAssertEqual(Double(ly[flat: r * n + j]), Foundation.log(want[j]), accuracy: 1e-5)
                }
            }
        }
        let big = Tensor([1000, 1001, 999, -1000, 1e30, -1e30], shape: [2, 3])
        let y = softmax(big).scalars, ly = logSoftmax(big).scalars
        XCTAssertFalse(y.contains { !$0.isFinite })
        assertClose(Array(y[0..<3]), naiveSoftmax([1000, 1001, 999]).map(Float.init), tolerance: 1e-6)
        assertClose(Array(y[3..<6]), [0, 1, 0])
        assertClose(Array(ly[0..<3]), naiveSoftmax([1000, 1001, 999]).map { Float(Foundation.log($0)) }, tolerance: 1e-6)
        XCTAssertEqual(ly[4], 0)
    }

    func testSoftmaxGradients() {
        var rng = Philox(seed: 42)
        for shape in [[6], [3, 5], [2, 2, 19]] {
            let x = Tensor.normal(shape, rng: &rng)
            XCTAssertLessThan(maxGradientError(inputs: [x], epsilon: 1e-3) { softmax($0[0]) }, 1e-2, "softmax \(shape)")
            XCTAssertLessThan(maxGradientError(inputs: [x], epsilon: 1e-3) { logSoftmax($0[0]) }, 1e-2, "logSoftmax \(shape)")
        }
    }

    func testLosses() {
        let p = Tensor([1, 2, 3, 4], shape: [2, 2]), t = Tensor([1.5, 2, 1, 5], shape: [2, 2])
        XCTAssertEqual(mseLoss(p, t).item, (0.25 + 0 + 4 + 1) / 4, accuracy: 1e-6)
        XCTAssertEqual(l1Loss(p, t).item, (0.5 + 0 + 2 + 1) / 4, accuracy: 1e-6)
        XCTAssertEqual(mseLoss(p, t).shape, [])
        // l1 subgradient is 0 where prediction equals target.
        let g = gradients(of: [p, t]) { l1Loss($0[0], $0[1]) }.gradients
        XCTAssertEqual(g[0].scalars, [-0.25, 0, 0.25, -0.25])
        XCTAssertEqual(g[1].scalars, [0.25, 0, -0.25, 0.25])
        var rng = Philox(seed: 43)
        let a = Tensor.normal([3, 7], rng: &rng), b = Tensor.normal([3, 7], rng: &rng)
        XCTAssertLessThan(maxGradientError(inputs: [a, b]) { mseLoss($0[0], $0[1]) }, 1e-2)
        XCTAssertLessThan(maxGradientError(inputs: [a, b], epsilon: 1e-3) { l1Loss($0[0], $0[1]) }, 1e-2)
        // Large inputs: thread-count independent and accurate.
        let x = Tensor.normal([300_001], rng: &rng), y = Tensor.normal([300_001], rng: &rng)
        let one = withThreads(1) { mseLoss(x, y).item }, two = withThreads(2) { mseLoss(x, y).item }
        XCTAssertEqual(one.bitPattern, two.bitPattern)
        var exact = 0.0
        for i in 0..<x.count { let d = Double(x[flat: i]) - Double(y[flat: i]); exact += d * d }
        XCTAssertEqual(Double(one), exact / Double(x.count), accuracy: 1e-5)
    }

    func testChromaPSNRSeesColourNotBrightness() {
        var rng = Philox(seed: 4)
        let image = Tensor.uniform([2, 3, 4, 5], rng: &rng)
        let grey = image.mean(axes: [1], keepDims: true) + Tensor(zeros: [2, 3, 4, 5])
        XCTAssertGreaterThan(chromaPSNR(image + 0.2, image), 80)           // a brightness shift keeps the colour
        XCTAssertLessThan(psnr(image + 0.2, image), 15)
        XCTAssertEqual(chromaPSNR(grey + 0.1, image), chromaPSNR(grey, image), accuracy: 1e-3)
        let expected = 10 * log10(1 / Double(square(image - grey).mean().item))
        XCTAssertEqual(chromaPSNR(grey, image), expected, accuracy: 1e-4)
    }

    /// `chroma` as a loss term: each pixel's channels sum to zero, and its backward (the mean
    /// over channels removed from the incoming gradient) matches finite differences.
    func testChromaRemovesEachPixelsGreyAndDifferentiates() {
        var rng = Philox(seed: 5)
        let image = Tensor.uniform([2, 3, 2, 3], rng: &rng), target = Tensor.uniform([2, 3, 2, 3], rng: &rng)
        let c = chroma(image)
        let plane = 6  // H·W: channel k of pixel p of image b is at (b·3 + k)·6 + p
        for b in 0..<2 { for p in 0..<plane {
            let at = { (k: Int) in (b * 3 + k) * plane + p }
            XCTAssertEqual((0..<3).map { c[flat: at($0)] }.reduce(0, +), 0, accuracy: 1e-6)
            XCTAssertEqual(c[flat: at(0)] - c[flat: at(1)], image[flat: at(0)] - image[flat: at(1)], accuracy: 1e-6)
        } }
        let error = maxGradientError(inputs: [image], epsilon: 1e-3) { xs in mseLoss(chroma(xs[0]), chroma(target)) * 100 }
        XCTAssertLessThan(error, 1e-2)
    }

    func testScalarPhiloxMatchesTheGenerator() {
        for (seed, stream, counter) in [(UInt64(0), UInt64(0), UInt64(0)), (7, 3, 1 << 40 | 5), (.max, .max, .max)] {
            let (a, b, c, d) = philoxWords(seed: seed, stream: stream, counter: counter)
            XCTAssertEqual(SIMD4(a, b, c, d), Philox.block(seed: seed, stream: stream, counter: counter))
        }
    }

    func testDropout() {
        var rng = Philox(seed: 44)
        let x = Tensor(repeating: 1, shape: [200_003])
        var r1 = Philox(seed: 5, stream: 2), r2 = r1
        let a = withThreads(1) { dropout(x, probability: 0.3, rng: &r1) }
        let b = withThreads(2) { dropout(x, probability: 0.3, rng: &r2) }
        XCTAssertEqual(a.scalars, b.scalars, "mask independent of thread count")
        XCTAssertEqual(r1, r2)
        XCTAssertEqual(r1.counter, UInt64((x.count + 3) / 4))
        for i in [0, 1, 2, 3, 4, 99_999, 200_002] {
            let bits = Philox.block(seed: 5, stream: 2, counter: UInt64(i / 4))
            XCTAssertEqual(a[flat: i] != 0, Philox.unit(bits[i % 4]) >= 0.3, "element \(i)")
        }
        let kept = a.scalars.filter { $0 != 0 }
        XCTAssertEqual(Double(kept.count) / Double(x.count), 0.7, accuracy: 0.005)
        XCTAssertTrue(kept.allSatisfy { abs($0 - 1 / 0.7) < 1e-6 })
        let c = dropout(x, probability: 0.3, rng: &r1)
        XCTAssertNotEqual(c.scalars, a.scalars, "the generator advances")

        let small = Tensor.normal([4, 5], rng: &rng)
        XCTAssertEqual(dropout(small, probability: 0.5, training: false, rng: &rng).scalars, small.scalars)
        XCTAssertEqual(dropout(small, probability: 0, rng: &rng).scalars, small.scalars)
        XCTAssertEqual(dropout(small, probability: 1, rng: &rng).scalars, [Float](repeating: 0, count: 20))

        // Backward reproduces the forward mask.
        var r3 = Philox(seed: 9)
        let saved = r3
        let grads = gradients(of: [small]) { dropout($0[0], probability: 0.4, rng: &r3).sum() }.gradients[0]
        var r4 = saved
        let mask = dropout(Tensor(repeating: 1, shape: [4, 5]), probability: 0.4, rng: &r4)
        assertClose(grads.scalars, mask.scalars, tolerance: 0)
    }
}
