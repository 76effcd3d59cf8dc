import XCTest
@testable import Tensors

/// Results and gradients must be bit-identical whatever the thread count.
final class StructuralDeterminismTests: XCTestCase {
    private func run(threads: Int, _ inputs: [Tensor], _ f: ([Tensor]) -> Tensor) -> [[Float]] {
        let saved = Parallel.threads
        Parallel.threads = threads
        defer { Parallel.threads = saved }
        let (value, grads) = gradients(of: inputs) { xs in
            // A non-uniform seed: sum of output·(index mod 7), through an op of this file set.
            let y = f(xs)
            let weights = Tensor((0..<y.count).map { Float($0 % 7) - 3 }, shape: [y.count, 1])
            return matmul(y.reshaped([1, -1]), weights)
        }
        return [value.scalars] + grads.map(\.scalars)
    }

    func testOneAndTwoThreadsAgreeBitForBit() {
        var rng = Philox(seed: 9)
        let q = Tensor.normal([2, 3, 150, 16], rng: &rng), k = Tensor.normal([2, 3, 270, 16], rng: &rng)
        let v = Tensor.normal([2, 3, 270, 16], rng: &rng)
        let q1 = Tensor.normal([1, 300, 16], rng: &rng), k1 = Tensor.normal([1, 600, 16], rng: &rng)
        let v1 = Tensor.normal([1, 600, 8], rng: &rng)
        let x = Tensor.normal([3, 8, 40, 40], rng: &rng), w = Tensor.normal([6, 8, 3, 3], rng: &rng)
        let gw = Tensor.normal([8], rng: &rng), gb = Tensor.normal([8], rng: &rng)
        // Large enough for BLAS.sgemm to split C: by rows (tall), by columns (wide), odd edges.
        let tall = Tensor.normal([2, 301, 200], rng: &rng), wide = Tensor.normal([70, 200], rng: &rng)
        let shared = Tensor.normal([200, 613], rng: &rng)
        let xw = Tensor.normal([2, 16, 37, 21], rng: &rng), ww = Tensor.normal([16, 16, 3, 3], rng: &rng)
        let cases: [(String, [Tensor], ([Tensor]) -> Tensor)] = [
            ("attention", [q, k, v], { attention($0[0], $0[1], $0[2]) }),
            ("attention, one slice split by blocks", [q1, k1, v1], { attention($0[0], $0[1], $0[2]) }),
            ("matmul split by rows", [tall, shared], { matmul($0[0], $0[1]) }),
            ("matmul split by columns", [wide, shared], { matmul($0[0], $0[1]) }),
            ("conv2d, Winograd", [xw, ww], { conv2d($0[0], weight: $0[1], padding: 1) }),
            ("conv2d", [x, w], { conv2d($0[0], weight: $0[1], stride: 2, padding: 1) }),
            ("groupNormSiLU", [x, gw, gb], { groupNormSiLU($0[0], groups: 4, weight: $0[1], bias: $0[2]) }),
            ("layerNorm", [x, gb, gw], { layerNorm($0[0].reshaped([-1, 8]), weight: $0[1], bias: $0[2]) }),
            ("bilinear", [x], { $0[0].resizedBilinear(height: 61, width: 23) }),
            ("ssim", [x, x.permuted([0, 1, 3, 2]).copy()], { ssimLoss($0[0], $0[1]) }),
            ("permute+gather", [x], { $0[0].permuted([0, 2, 1, 3]).indexSelect(axis: 0, indices: [2, 0, 2]) }),
        ]
        for (name, inputs, f) in cases {
            let one = run(threads: 1, inputs, f), two = run(threads: 2, inputs, f)
            XCTAssertEqual(one, two, name)
        }
    }
}
