import Foundation
import Layers
import Tensors
import XCTest

/// Which views' tokens each view attends to, mode by mode, against plain attention on the
/// tokens the mode says it sees; and the sparse layout's gradient by finite differences.
final class MultiViewAttentionTests: XCTestCase {
    let (views, tokens, width) = (3, 4, 8)
    var rng = Philox(seed: 31)

    func built() -> Attention {
        let attn = Attention(queryDimension: width, heads: 2, headDimension: 4)
        _ = ParameterStore(model: attn, seed: 12)
        return attn
    }

    /// Rows `range` of x [n, tokens, width] (whole images).
    func images(_ x: Tensor, _ range: Range<Int>) -> Tensor { x.sliced(axis: 0, range: range) }

    func assertClose(_ a: Tensor, _ b: Tensor, _ what: String, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, what, line: line)
        let worst = zip(a.scalars, b.scalars).map { Swift.abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(worst, 1e-5, what, line: line)
    }

    func testSparseAttendsToViewZeroAndItself() {
        let attn = built()
        let x = Tensor.normal([2 * views, tokens, width], rng: &rng)   // B = 2 samples
        withoutGradients {
            let y = attn(x, views: views, multiView: .sparse)
            for sample in 0..<2 {
                let first = sample * views
                assertClose(images(y, first..<(first + 1)), attn(images(x, first..<(first + 1))),
                            "view 0 of sample \(sample) attends to its own tokens only")
                for v in 1..<views {
                    let i = first + v
                    // Plain self-attention over the sequence [view 0, view v], read at view v's rows.
                    let pair = concat([images(x, first..<(first + 1)), images(x, i..<(i + 1))], axis: 1)
                    let expected = attn(pair).sliced(axis: 1, range: tokens..<(2 * tokens))
                    assertClose(images(y, i..<(i + 1)), expected, "view \(v) of sample \(sample) attends to view 0 and itself")
                }
            }
        }
    }

    func testDenseAttendsToEveryViewOfItsSampleAndNoneToItsOwn() {
        let attn = built()
        let x = Tensor.normal([2 * views, tokens, width], rng: &rng)
        withoutGradients {
            let dense = attn(x, views: views, multiView: .dense)
            let perView = attn(x, views: views, multiView: .none)
            assertClose(perView, attn(x), "none is plain per-image attention")
            for sample in 0..<2 {
                let all = images(x, (sample * views)..<((sample + 1) * views)).reshaped([1, views * tokens, width])
                assertClose(images(dense, (sample * views)..<((sample + 1) * views)), attn(all).reshaped([views, tokens, width]),
                            "dense is one sequence per sample")
            }
            for mode in MultiViewAttention.allCases {
                assertClose(attn(x, views: 1, multiView: mode), attn(x), "one view: \(mode) is plain attention")
            }
        }
    }

    /// The sparse key layout (slice of view 0, broadcast over the views, concatenated with each
    /// view's own) routes gradients back to view 0 from every view.
    func testSparseGradientsByFiniteDifferences() {
        let attn = built()
        let x = Tensor.normal([views, tokens, width], rng: &rng)
        let worst = maxGradientError(inputs: [x]) { attn($0[0], views: self.views, multiView: .sparse) }
        XCTAssertLessThan(worst, 1e-2)
    }
}
