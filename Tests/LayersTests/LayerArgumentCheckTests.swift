import Foundation
import Layers
import Tensors
import TestSupport
import XCTest

/// Wrong inputs and configurations of layers stop the process with a message naming the layer,
/// what it expected and what it got, in the release build too. Each misuse runs in a forked
/// child; layers and inputs are built before, in the parent.
final class LayerArgumentCheckTests: XCTestCase {
    var rng = Philox(seed: 21)

    func normal(_ shape: [Int]) -> Tensor { Tensor.normal(shape, rng: &rng) }

    func built<M: Module>(_ model: M) -> M {
        _ = ParameterStore(model: model, seed: 3)
        return model
    }

    func testLinearLayerNormConvolution() {
        let linear = built(Linear(4, 3)), x = normal([2, 5])
        XCTAssertNil(Misuse.problem(expecting: ["Linear(4→3) got input [2, 5]"]) { _ = linear(x) })
        let norm = built(LayerNorm(8)), y = normal([2, 6])
        XCTAssertNil(Misuse.problem(expecting: ["LayerNorm(8) got input [2, 6]"]) { _ = norm(y) })
        let conv = built(Conv2d(3, 4, kernelSize: 3, padding: 1)), image = normal([1, 2, 8, 8])
        XCTAssertNil(Misuse.problem(expecting: ["Conv2d(3→4) got input [1, 2, 8, 8]"]) { _ = conv(image) })
    }

    func testGroupNorm() {
        let norm = built(GroupNorm(groups: 2, channels: 8)), x = normal([1, 6, 4, 4])
        XCTAssertNil(Misuse.problem(expecting: ["GroupNorm(2 groups, 8 channels) got input [1, 6, 4, 4]"]) { _ = norm(x) })
        XCTAssertNil(Misuse.problem(expecting: ["GroupNorm(2 groups, 8 channels) got input [1, 6, 4, 4]"]) { _ = norm.withSiLU(x) })
        XCTAssertNil(Misuse.problem(expecting: ["GroupNorm: 8 channels do not split into 3 groups"]) {
            _ = GroupNorm(groups: 3, channels: 8)
        })
        XCTAssertNil(Misuse.problem(expecting: ["GroupNorm: 8 channels do not split into 0 groups"]) {
            _ = GroupNorm(groups: 0, channels: 8)
        })
    }

    func testAttentionViewsAndContext() {
        let attn = built(Attention(queryDimension: 8, heads: 2, headDimension: 4)), x = normal([3, 5, 8])
        XCTAssertNil(Misuse.problem(expecting: ["Attention: batch 3 is not a multiple of 2 views"]) { _ = attn(x, views: 2) })
        let flat = normal([15, 8])
        XCTAssertNil(Misuse.problem(expecting: ["Attention expects [batch, tokens, channels], got [15, 8]"]) { _ = attn(flat) })
        let cross = built(Attention(queryDimension: 8, heads: 2, headDimension: 4, contextDimension: 6))
        let context = normal([2, 7, 6])
        XCTAssertNil(Misuse.problem(expecting: ["Attention: context [2, 7, 6] for queries [3, 5, 8]: expected [3, M, 6]"]) {
            _ = cross(x, context: context)
        })
        XCTAssertNil(Misuse.problem(expecting: ["Attention: 0 heads of width 4"]) {
            _ = Attention(queryDimension: 8, heads: 0, headDimension: 4)
        })
    }

    /// The example: with views V > 1 the cross-attention's context is per view,
    /// [B·V, M, C]; a per-sample [B, M, C] context used to read past K and V.
    func testTransformerBlockCrossAttentionNeedsAContextPerView() {
        let block = built(TransformerBlock(dimension: 8, heads: 2, headDimension: 4, contextDimension: 6))
        let x = normal([4, 3, 8])   // B = 2 samples × V = 2 views
        let perSample = normal([2, 5, 6])
        XCTAssertNil(Misuse.problem(expecting: ["TransformerBlock cross-attention: context [2, 5, 6] for hidden states [4, 3, 8] with 2 view(s)",
                                                "expected [4, M, 6]"]) {
            _ = block(x, context: perSample, views: 2)
        })
        XCTAssertNil(Misuse.problem(expecting: ["TransformerBlock with cross-attention called without context"]) {
            _ = block(x, views: 2)
        })
        let wideContext = normal([4, 5, 7])
        XCTAssertNil(Misuse.problem(expecting: ["Linear(6→8) got input [4, 5, 7]"]) { _ = block(x, context: wideContext, views: 2) })
    }

    /// The per-view context is used per view: changing view 1's context changes view 1's output
    /// and leaves view 0's alone (cross-attention comes after the views mix in self-attention).
    func testTransformerBlockCrossAttentionUsesEachViewsContext() {
        let block = built(TransformerBlock(dimension: 8, heads: 2, headDimension: 4, contextDimension: 6))
        let x = normal([2, 3, 8])   // B = 1 sample × V = 2 views
        let context = normal([2, 5, 6])
        var changed = context.copy()
        changed.withUnsafeMutableBufferPointer { for i in 30..<60 { $0[i] += 1 } }   // view 1's context only
        let (a, b) = withoutGradients { (block(x, context: context, views: 2), block(x, context: changed, views: 2)) }
        XCTAssertEqual(a.shape, [2, 3, 8])
        XCTAssertEqual(Array(a.scalars[0..<24]), Array(b.scalars[0..<24]), "view 0 does not see view 1's context")
        XCTAssertGreaterThan(zip(a.scalars[24...], b.scalars[24...]).map { Swift.abs($0 - $1) }.max()!, 1e-3)
    }
}
