import Datasets
import XCTest

final class ImageResizeTests: XCTestCase {
    func testLinearRampIsPreservedInTheInterior() {
        // Pixel centres follow (u + 0.5): a ramp v(x) = x_centre / width must stay a ramp (exactly for
        // integer factors; within a quarter of an 8-bit level otherwise, where the sampled tent's
        // taps sit asymmetrically around the centre).
        let w = 64
        let ramp = Image(width: w, height: 2, channels: 1, pixels: (0..<(2 * w)).map { Float($0 % w) / Float(w) + 0.5 / Float(w) })
        for target in [16, 24, 100] {
            let small = ramp.resized(width: target, height: 2)
            let support = max(w / target, 1) + 1
            for x in support..<(target - support) {
                XCTAssertEqual(small[x, 1, 0], (Float(x) + 0.5) / Float(target), accuracy: w % target == 0 ? 1e-5 : 1e-3, "target \(target) x \(x)")
            }
        }
    }

    func testTransparentColourDoesNotBleed() {
        // Left half opaque red, right half fully transparent green: every pixel of the result that
        // has any alpha must be pure red.
        var image = Image(width: 32, height: 4, channels: 4)
        for y in 0..<4 {
            for x in 0..<32 {
                if x < 16 { image[x, y, 0] = 1; image[x, y, 3] = 1 } else { image[x, y, 1] = 1 }
            }
        }
        let small = image.resized(width: 5, height: 2)
        var partial = 0
        for y in 0..<2 {
            for x in 0..<5 where small[x, y, 3] > 0 {
                XCTAssertEqual(small[x, y, 0], 1, accuracy: 1e-5)
                XCTAssertEqual(small[x, y, 1], 0)
                if small[x, y, 3] < 1 { partial += 1 }
            }
        }
        XCTAssertGreaterThan(partial, 0, "the edge should be antialiased")
    }

    func testDownsamplingAveragesFineDetail() {
        // A one-pixel stripe pattern must average out, not alias into stripes.
        let stripes = Image(width: 90, height: 90, channels: 1, pixels: (0..<(90 * 90)).map { Float($0 % 2) })
        let small = stripes.resized(width: 13, height: 13)
        for v in small.pixels { XCTAssertEqual(v, 0.5, accuracy: 0.02) }
    }
}
