import Layers
import Reconstruction
import Tensors
import TestSupport
import XCTest

/// A configuration that cannot build a GS-LRM, or views of the wrong layout, stop the process
/// with a message naming the problem, in the release build too (forked child per misuse).
final class GSLRMArgumentCheckTests: XCTestCase {
    func testConfigurationAndInputChecks() {
        var bad = GSLRMConfiguration()
        bad.width = 10; bad.heads = 3
        XCTAssertNil(Misuse.problem(expecting: ["GS-LRM configuration: width 10 is not divisible by heads 3"]) { _ = GSLRM(bad) })

        var c = GSLRMConfiguration()
        c.width = 16; c.layers = 1; c.heads = 2; c.patchSize = 4; c.resolution = 8; c.inputViews = 2
        let model = GSLRM(c)
        _ = ParameterStore(model: model, seed: 1)
        var rng = Philox(seed: 5)
        let rgbOnly = Tensor.normal([1, 2, 3, 8, 8], rng: &rng)
        XCTAssertNil(Misuse.problem(expecting: ["GS-LRM takes posed views [B, V, 9, H, W], got [1, 2, 3, 8, 8]"]) { _ = model(rgbOnly) })
        let oddSize = Tensor.normal([1, 2, 9, 8, 6], rng: &rng)
        XCTAssertNil(Misuse.problem(expecting: ["GS-LRM: 6×8 views do not divide into 4×4 patches"]) { _ = model(oddSize) })
    }
}
