import XCTest
@testable import Tensors

/// Slow, obviously-correct references for the pointwise tests.
enum Naive {
    static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        for d in stride(from: shape.count - 2, through: 0, by: -1) { s[d] = s[d + 1] * shape[d + 1] }
        return s
    }

    /// Flat index into `shape` (right-aligned, size-1 dims broadcast) of output multi-index `idx`.
    static func index(_ idx: [Int], into shape: [Int]) -> Int {
        let offset = idx.count - shape.count
        let st = strides(shape)
        var i = 0
        for d in shape.indices where shape[d] != 1 { i += idx[d + offset] * st[d] }
        return i
    }

    static func multiIndex(_ flat: Int, _ shape: [Int]) -> [Int] {
        var rest = flat
        var idx = [Int](repeating: 0, count: shape.count)
        for d in stride(from: shape.count - 1, through: 0, by: -1) { idx[d] = rest % shape[d]; rest /= shape[d] }
        return idx
    }

    static func binary(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        let rank = max(a.rank, b.rank)
        let pa = [Int](repeating: 1, count: rank - a.rank) + a.shape, pb = [Int](repeating: 1, count: rank - b.rank) + b.shape
        let shape = (0..<rank).map { max(pa[$0], pb[$0]) }
        let n = shape.reduce(1, *)
        var out = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let idx = multiIndex(i, shape)
            out[i] = f(a[flat: index(idx, into: a.shape)], b[flat: index(idx, into: b.shape)])
        }
        return Tensor(out, shape: shape)
    }

    /// Sums (in Double) over `axes`, keeping them as size 1.
    static func sum(_ x: Tensor, axes: Set<Int>) -> [Double] {
        let kept = x.shape.indices.map { axes.contains($0) ? 1 : x.shape[$0] }
        var out = [Double](repeating: 0, count: kept.reduce(1, *))
        for i in 0..<x.count {
            let idx = multiIndex(i, x.shape)
            out[index(idx, into: kept)] += Double(x[flat: i])
        }
        return out
    }
}

extension XCTestCase {
    func assertClose(_ a: [Float], _ b: [Float], tolerance: Float = 1e-5, _ message: String = "",
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, message, file: file, line: line)
        for (i, (x, y)) in zip(a, b).enumerated() where !(abs(x - y) <= tolerance * max(1, abs(y))) {
            XCTFail("\(message) element \(i): \(x) vs \(y)", file: file, line: line)
            return
        }
    }

    /// Runs `body` with `Parallel.threads` set, restoring it afterwards.
    func withThreads<R>(_ n: Int, _ body: () -> R) -> R {
        let saved = Parallel.threads
        Parallel.threads = n
        defer { Parallel.threads = saved }
        return body()
    }
}
