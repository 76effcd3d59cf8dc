import Tensors
import XCTest

/// Asserts `got` matches a reference made by PyTorch/diffusers: same shape, and the largest
/// absolute error at most `tolerance` × the reference's largest magnitude (relative to the
/// tensor, not per element, so near-zero entries do not blow the bar up).
public func assertRelativelyClose(_ got: Tensor, _ expected: Tensor, _ what: String, tolerance: Float = 1e-4,
                                  file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.shape, expected.shape, "\(what): shape", file: file, line: line)
    guard got.shape == expected.shape else { return }
    var worst: Float = 0, scale: Float = 1e-12
    for i in 0..<got.count {
        worst = max(worst, abs(got[flat: i] - expected[flat: i]))
        scale = max(scale, abs(expected[flat: i]))
    }
    XCTAssertLessThanOrEqual(worst / scale, tolerance, "\(what): max error \(worst) vs magnitude \(scale)", file: file, line: line)
}
