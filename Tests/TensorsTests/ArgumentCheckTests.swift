import Foundation
import TestSupport
import XCTest
@testable import Tensors

/// Wrong arguments to the ops stop the process with a message naming the op and the shapes, in
/// the release build too (`check`, not `precondition`). Each misuse runs in a forked child.
final class ArgumentCheckTests: XCTestCase {
    var rng = Philox(seed: 12)

    func normal(_ shape: [Int]) -> Tensor { Tensor.normal(shape, rng: &rng) }

    func testMatmul() {
        let (a, b, c) = (normal([2, 3]), normal([4, 5]), normal([3]))
        XCTAssertNil(Misuse.problem(expecting: ["matmul inner sizes differ", "[2, 3]", "[4, 5]"]) { _ = matmul(a, b) })
        XCTAssertNil(Misuse.problem(expecting: ["matmul needs matrices", "[3]"]) { _ = matmul(c, b) })
        let (batched, otherBatch) = (normal([2, 3, 4]), normal([3, 4, 5]))
        XCTAssertNil(Misuse.problem(expecting: ["matmul batch shapes differ", "[2, 3, 4]", "[3, 4, 5]"]) {
            _ = matmul(batched, otherBatch)
        })
    }

    func testAffine() {
        let (x, weight, bias) = (normal([2, 3]), normal([4, 5]), normal([3]))
        XCTAssertNil(Misuse.problem(expecting: ["affine: x [2, 3] does not match weight [4, 5]"]) {
            _ = affine(x, weight: weight, bias: nil)
        })
        let fitting = normal([4, 3])
        XCTAssertNil(Misuse.problem(expecting: ["affine: bias [3] for 4 outputs"]) { _ = affine(x, weight: fitting, bias: bias) })
    }

    func testConvolution() {
        let (x, weight) = (normal([1, 3, 8, 8]), normal([4, 2, 3, 3]))
        XCTAssertNil(Misuse.problem(expecting: ["conv2d weight [4, 2, 3, 3] does not match input channels of [1, 3, 8, 8]"]) {
            _ = conv2d(x, weight: weight, bias: nil, stride: (1, 1), padding: (1, 1))
        })
        let (unbatched, fitting) = (normal([3, 8, 8]), normal([4, 3, 3, 3]))
        XCTAssertNil(Misuse.problem(expecting: ["conv2d input must be [N, C, H, W], got [3, 8, 8]"]) {
            _ = conv2d(unbatched, weight: fitting, bias: nil, stride: (1, 1), padding: (1, 1))
        })
        let bias = normal([5])
        XCTAssertNil(Misuse.problem(expecting: ["conv2d bias [5] for 4 output channels"]) {
            _ = conv2d(x, weight: fitting, bias: bias, stride: (1, 1), padding: (1, 1))
        })
        let small = normal([1, 3, 2, 2])
        XCTAssertNil(Misuse.problem(expecting: ["conv2d: kernel [4, 3, 3, 3] does not fit input [1, 3, 2, 2]"]) {
            _ = conv2d(small, weight: fitting, bias: nil, stride: (1, 1), padding: (0, 0))
        })
    }

    func testAttention() {
        let (q, narrowK, v) = (normal([1, 4, 8]), normal([1, 4, 6]), normal([1, 4, 8]))
        XCTAssertNil(Misuse.problem(expecting: ["attention: q is [1, 4, 8] but k is [1, 4, 6]"]) {
            _ = attention(q, narrowK, v, heads: 2)
        })
        let moreKeys = normal([1, 5, 8])
        XCTAssertNil(Misuse.problem(expecting: ["attention: k has 5 keys but v is [1, 4, 8]"]) {
            _ = attention(q, moreKeys, v, heads: 2)
        })
        let otherBatch = normal([2, 4, 8])
        XCTAssertNil(Misuse.problem(expecting: ["attention batch sizes differ", "[2, 4, 8]"]) {
            _ = attention(q, otherBatch, otherBatch, heads: 2)
        })
        XCTAssertNil(Misuse.problem(expecting: ["attention: 3 heads do not divide q [1, 4, 8]"]) { _ = attention(q, q, v, heads: 3) })
        let rank2 = normal([4, 8])
        XCTAssertNil(Misuse.problem(expecting: ["attention(heads:) needs q, k, v of shape [B, N, H·D]", "[4, 8]"]) {
            _ = attention(rank2, q, v, heads: 2)
        })
        let (q4, k4) = (normal([1, 2, 4, 8]), normal([1, 2, 4, 6]))
        XCTAssertNil(Misuse.problem(expecting: ["attention: q has D=8 but k is [1, 2, 4, 6]"]) { _ = attention(q4, k4, q4) })
    }

    func testNormalizations() {
        let (x, weight) = (normal([2, 8]), normal([6]))
        XCTAssertNil(Misuse.problem(expecting: ["layerNorm weight [6] for last axis 8 of [2, 8]"]) {
            _ = layerNorm(x, weight: weight, bias: nil)
        })
        let image = normal([1, 6, 4, 4])
        XCTAssertNil(Misuse.problem(expecting: ["groupNorm: 6 channels do not split into 4 groups"]) {
            _ = groupNorm(image, groups: 4, weight: nil, bias: nil)
        })
        let wideWeight = normal([8])
        XCTAssertNil(Misuse.problem(expecting: ["groupNorm weight [8] for 6 channels"]) {
            _ = groupNormSiLU(image, groups: 3, weight: wideWeight, bias: nil)
        })
        let vector = normal([6])
        XCTAssertNil(Misuse.problem(expecting: ["groupNorm needs [N, C, *], got [6]"]) {
            _ = groupNorm(vector, groups: 1, weight: nil, bias: nil)
        })
    }

    func testShapesAndBroadcasting() {
        let (a, b) = (normal([2, 3]), normal([4]))
        XCTAssertNil(Misuse.problem(expecting: ["shapes [2, 3] and [4] do not broadcast"]) { _ = a + b })
        XCTAssertNil(Misuse.problem(expecting: ["reshaped([5]) cannot hold 6 elements"]) { _ = a.reshaped([5]) })
        XCTAssertNil(Misuse.problem(expecting: ["sliced(axis: 1, range: 1..<4) is outside [2, 3]"]) { _ = a.sliced(axis: 1, range: 1..<4) })
        XCTAssertNil(Misuse.problem(expecting: ["concat(axis: 0): shape [4] does not match [2, 3]"]) { _ = concat([a, b], axis: 0) })
        XCTAssertNil(Misuse.problem(expecting: ["axis 2 out of range for rank 2"]) { _ = a.sliced(axis: 2, range: 0..<1) })
    }

    /// The helper itself: a closure that returns, or crashes without a check, is reported.
    func testMisuseHelperReportsWhatIsNotAFailedCheck() {
        XCTAssertNotNil(Misuse.problem(expecting: []) {})
        XCTAssertEqual(Misuse.run {}.exitStatus, 0)
        XCTAssertNotNil(Misuse.problem(expecting: ["not in the message"]) { check(false, "something else") })
        XCTAssertNil(Misuse.problem(expecting: ["something else"]) { check(false, "something else") })
        XCTAssertFalse(Misuse.run { raise(SIGSEGV) }.trapped)
    }

    /// `precondition` and `assert` vanish under `-Ounchecked` and print nothing under `-O`: every
    /// argument check in Sources is a `check`.
    func testSourcesUseAlwaysOnChecks() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources")
        let files = try XCTUnwrap(FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil))
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
        XCTAssertGreaterThan(files.count, 50)
        let pattern = try NSRegularExpression(pattern: #"\b(precondition|assert|preconditionFailure|assertionFailure)\("#)
        for file in files {
            let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            for (i, line) in lines.enumerated() where !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") {
                let text = String(line)
                XCTAssertNil(pattern.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
                             "\(file.lastPathComponent):\(i + 1) uses a check that release builds drop: \(text)")
            }
        }
    }
}
