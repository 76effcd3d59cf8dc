import Foundation
import Layers
import Tensors
import XCTest

/// Properties not covered by the PyTorch fixtures.
final class LayerBehaviourTests: XCTestCase {
    func testSinusoidalEmbeddingDefaultsMatchTheFormula() {
        // diffusers defaults: sin first, downscale_freq_shift 1 → fᵢ = 10000^(−i/(half−1)).
        let e = sinusoidalTimestepEmbedding([0, 3, 250.5], dimension: 9)
        XCTAssertEqual(e.shape, [3, 9])
        let half = 4
        for (row, t) in [Float(0), 3, 250.5].enumerated() {
            for i in 0..<half {
                let f = pow(10_000, -Double(i) / Double(half - 1))
                XCTAssertEqual(e[flat: row * 9 + i], Float(sin(Double(t) * f)), accuracy: 1e-6)
                XCTAssertEqual(e[flat: row * 9 + half + i], Float(cos(Double(t) * f)), accuracy: 1e-6)
            }
            XCTAssertEqual(e[flat: row * 9 + 8], 0, "odd dimension is zero-padded")
        }
    }

    func testEmbeddingLooksUpRowsAndRoutesGradients() {
        let table = Embedding(count: 5, dimension: 3)
        let store = ParameterStore(model: table, seed: 4)
        Tape.shared.reset()
        store.zeroGradients()
        let rows = table([4, 1, 4])
        XCTAssertEqual(Array(rows.scalars[0..<3]), Array(store["weight"]!.scalars[12..<15]))
        Tape.shared.backward(rows)
        XCTAssertEqual(store.gradient(named: "weight")!.scalars, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 2, 2, 2])
        Tape.shared.reset()
    }

    func testMultiViewAttentionMixesViewsAndSingleViewDoesNot() {
        let attn = Attention(queryDimension: 8, heads: 2, headDimension: 4)
        _ = ParameterStore(model: attn, seed: 6)
        var rng = Philox(seed: 8)
        let x = Tensor.normal([4, 5, 8], rng: &rng)   // B=2, V=2
        var changed = x.copy()
        changed.withUnsafeMutableBufferPointer { $0[5 * 8 + 3] += 1 }  // a token of view 1, sample 0
        let (a, b) = withoutGradients { (attn(x, views: 2), attn(changed, views: 2)) }
        let (c, d) = withoutGradients { (attn(x), attn(changed)) }
        func differs(_ p: Tensor, _ q: Tensor, item: Int) -> Bool {
            (0..<(5 * 8)).contains { abs(p[flat: item * 40 + $0] - q[flat: item * 40 + $0]) > 1e-6 }
        }
        XCTAssertTrue(differs(a, b, item: 0), "view 0 of a sample sees the tokens of its view 1")
        XCTAssertFalse(differs(a, b, item: 2), "another sample is unaffected")
        XCTAssertFalse(differs(c, d, item: 0), "plain self-attention keeps views apart")
    }

    func testResnetDropoutIsActiveOnlyWithAGeneratorAndReproducible() {
        let block = ResnetBlock2D(inChannels: 8, timeEmbeddingChannels: nil, groups: 2, dropout: 0.5)
        _ = ParameterStore(model: block, seed: 2)
        var rng = Philox(seed: 1)
        let x = Tensor.normal([1, 8, 4, 4], rng: &rng)
        withoutGradients {
            let eval1 = block(x), eval2 = block(x)
            XCTAssertEqual(eval1.scalars, eval2.scalars)
            var g1: Philox? = Philox(seed: 3), g2: Philox? = Philox(seed: 3)
            let train1 = block(x, dropoutRNG: &g1), train2 = block(x, dropoutRNG: &g2)
            XCTAssertEqual(train1.scalars, train2.scalars)
            XCTAssertNotEqual(train1.scalars, eval1.scalars)
            XCTAssertNotEqual(g1, Philox(seed: 3), "the generator advances")
        }
    }
}
