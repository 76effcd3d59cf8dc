import Datasets
import Tensors
import XCTest

/// A user's portrait is brought to the training framing, or refused by name.
final class PortraitFramingTests: XCTestCase {
    /// An RGBA image `width`×`height` with an opaque red ellipse (the "head") whose box is
    /// x0..<x1, y0..<y1.
    func head(width: Int, height: Int, box: (x0: Int, x1: Int, y0: Int, y1: Int)) -> Image {
        var image = Image(width: width, height: height, channels: 4, repeating: 0)
        let cx = Double(box.x0 + box.x1) / 2, cy = Double(box.y0 + box.y1) / 2
        let rx = Double(box.x1 - box.x0) / 2, ry = Double(box.y1 - box.y0) / 2
        for y in 0..<height {
            for x in 0..<width {
                let u = (Double(x) + 0.5 - cx) / rx, v = (Double(y) + 0.5 - cy) / ry
                if u * u + v * v <= 1 { image[x, y, 0] = 1; image[x, y, 3] = 1 }
            }
        }
        return image
    }

    /// The box of the non-white pixels of a prepared [1, 3, S, S] portrait, as fractions of S.
    func headBox(_ t: Tensor) -> (height: Double, centreX: Double, centreY: Double) {
        let s = t.shape[3]
        var (x0, x1, y0, y1) = (s, -1, s, -1)
        for y in 0..<s {
            for x in 0..<s where t[flat: s * s + y * s + x] < 0.5 {  // green channel: red head, white ground
                (x0, x1, y0, y1) = (min(x0, x), max(x1, x), min(y0, y), max(y1, y))
            }
        }
        return (Double(y1 + 1 - y0) / Double(s), Double(x0 + x1 + 1) / 2 / Double(s), Double(y0 + y1 + 1) / 2 / Double(s))
    }

    func testAnOffCentreNonSquareRGBAPortraitIsReframed() throws {
        // A 300×200 picture, the head 80 px high in the upper left: nothing like the training framing.
        let image = head(width: 300, height: 200, box: (40, 110, 20, 100))
        let (portrait, treatment) = try PortraitFraming.prepare(image, size: 64, source: "p.png")
        XCTAssertEqual(portrait.shape, [1, 3, 64, 64])
        guard case .reframed(_, _, let side) = treatment else { return XCTFail("expected a reframing, got \(treatment)") }
        XCTAssertEqual(side, Int((80 / Double(PortraitFraming.boxHeight)).rounded()))
        let box = headBox(portrait)
        XCTAssertEqual(box.height, Double(PortraitFraming.boxHeight), accuracy: 2.0 / 64)
        XCTAssertEqual(box.centreX, 0.5, accuracy: 1.5 / 64)
        XCTAssertEqual(box.centreY, Double(PortraitFraming.boxCentreY), accuracy: 1.5 / 64)
        // Where the crop leaves the picture it is transparent, i.e. white.
        XCTAssertEqual(portrait[flat: 0], 1, accuracy: 1e-6)
    }

    func testATrainingFramedPortraitIsUsedAsItIs() throws {
        // Box 0.83 high centred at (0.5, 0.585) of 128²: only resized.
        let image = head(width: 128, height: 128, box: (14, 114, 22, 128))
        let (portrait, treatment) = try PortraitFraming.prepare(image, size: 64, source: "p.png")
        XCTAssertEqual(treatment, .asIs)
        XCTAssertEqual(headBox(portrait).height, 106.0 / 128, accuracy: 1.5 / 64)
    }

    func testPortraitsThatCannotBeFramedAreRefusedByName() {
        func refusal(_ image: Image) -> String {
            do { _ = try PortraitFraming.prepare(image, size: 64, source: "p.png"); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertTrue(refusal(Image(width: 40, height: 30, channels: 3, repeating: 1)).contains("p.png: the portrait is 40×30 without alpha"))
        XCTAssertTrue(refusal(Image(width: 32, height: 32, channels: 3, repeating: 0.2)).contains("only 0% of its border is white"))
        XCTAssertTrue(refusal(Image(width: 32, height: 32, channels: 4, repeating: 0)).contains("fully transparent"))
        XCTAssertTrue(refusal(head(width: 64, height: 64, box: (10, 50, 0, 40))).contains("the head is cut by the image's top edge"))
        // A square RGB portrait on white is taken as framed.
        XCTAssertEqual(refusal(Image(width: 32, height: 32, channels: 3, repeating: 1)), "accepted")
    }
}
