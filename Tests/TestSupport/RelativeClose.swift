import Tensors
import XCTest

/// Asserts `got` matches a reference made by PyTorch/diffusers: same shape, and the largest
/// absolute error at most `tolerance` × the reference's largest magnitude (relative to the
/// tensor, not per element, so near-zero entries do not blow the bar up).
public func assertRelativelyClose(_ got: Tensor, _ expected: Tensor, _ what: String, tolerance: Float = 1e-4,
                                  file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.shape, expected.shape, "\(what): shape", file: file, line: line)
    guard got.shape == expected.shape else { return }
    let (worst, scale) = largestError(got, expected)
    XCTAssertLessThanOrEqual(worst / scale, tolerance, "\(what): max error \(worst) vs magnitude \(scale)", file: file, line: line)
}

/// The largest absolute error of `got` (same shape as `expected`) and the reference's largest
/// magnitude; their ratio is the error `assertRelativelyClose` bounds.
public func largestError(_ got: Tensor, _ expected: Tensor) -> (error: Float, magnitude: Float) {
    var worst: Float = 0, scale: Float = 1e-12
    for i in 0..<got.count {
        worst = max(worst, abs(got[flat: i] - expected[flat: i]))
        scale = max(scale, abs(expected[flat: i]))
    }
    return (worst, scale)
}
