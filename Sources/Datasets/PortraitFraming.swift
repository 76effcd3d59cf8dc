import Foundation
import Tensors

/// Brings a user's portrait to the framing the models were trained on, or refuses it by name.
///
/// The training renders see the head from 2.7 units with a 50° field of view: over the 240
/// front views of the 64² pipeline-rig heads, the alpha box is 0.83 ± 0.03 of the image high
/// and its centre sits at 0.585 ± 0.014 of the height, horizontally centred (the neck runs to
/// the bottom edge). A portrait is used as it is when it already looks like that; an RGBA
/// portrait of any size, aspect or placement is cropped (padded with transparency where the
/// crop leaves the image) to the square on which its alpha box has the training height and
/// centre, then composited on white; an RGB portrait has no alpha to find the head by, so it
/// must already be square, on white and framed: otherwise it is refused, never guessed at.
public enum PortraitFraming {
    /// Alpha-box height ÷ image side in the training renders.
    public static let boxHeight: Float = 0.83
    /// Alpha-box centre ÷ image side, from the top.
    public static let boxCentreY: Float = 0.585
    /// How far a square RGBA portrait's box may sit from the training framing and still be used
    /// as it is: the spread of the training renders themselves (about 3 σ).
    public static let heightTolerance: Float = 0.09
    public static let centreTolerance: Float = 0.04

    /// What was done to the portrait.
    public enum Treatment: Equatable, Sendable {
        /// Already on the training framing: only resized and composited on white.
        case asIs
        /// Cropped to the square `side` pixels wide at (`left`, `top`) of the original (may
        /// reach outside it), then resized.
        case reframed(left: Int, top: Int, side: Int)
    }

    /// The portrait on white as [1, 3, size, size], and what was done to it.
    public static func prepare(_ image: Image, size: Int, source: String) throws -> (Tensor, Treatment) {
        guard image.hasAlpha else { return (try opaque(image, size: size, source: source), .asIs) }
        let rgba = image.converted(toChannels: 4)
        guard let box = alphaBox(rgba) else {
            throw DataError(source, "the portrait is fully transparent: its alpha holds no head")
        }
        let w = Float(rgba.width), h = Float(rgba.height)
        if box.minX == 0 || box.maxX == rgba.width || box.minY == 0 {
            throw DataError(source, "the head is cut by the image's \(box.minY == 0 ? "top" : "side") edge (alpha box x \(box.minX)..<\(box.maxX), "
                            + "y \(box.minY)..<\(box.maxY) of \(rgba.width)×\(rgba.height)); give a portrait with the whole head inside it")
        }
        let boxHeight = Float(box.maxY - box.minY), centreX = Float(box.minX + box.maxX) / 2, centreY = Float(box.minY + box.maxY) / 2
        let framed = rgba.width == rgba.height && abs(boxHeight / h - Self.boxHeight) <= heightTolerance
            && abs(centreX / w - 0.5) <= centreTolerance && abs(centreY / h - boxCentreY) <= centreTolerance
        if framed { return (onWhite(rgba.resized(width: size, height: size)), .asIs) }
        let side = max(Int((boxHeight / Self.boxHeight).rounded()), 1)
        let left = Int((centreX - Float(side) / 2).rounded()), top = Int((centreY - boxCentreY * Float(side)).rounded())
        var crop = Image(width: side, height: side, channels: 4, repeating: 0)
        for y in max(top, 0)..<min(top + side, rgba.height) {
            for x in max(left, 0)..<min(left + side, rgba.width) {
                for c in 0..<4 { crop[x - left, y - top, c] = rgba[x, y, c] }
            }
        }
        return (onWhite(crop.resized(width: size, height: size)), .reframed(left: left, top: top, side: side))
    }

    /// The pixel box [minX, maxX) × [minY, maxY) where alpha ≥ ½, nil when there is none.
    static func alphaBox(_ rgba: Image) -> (minX: Int, maxX: Int, minY: Int, maxY: Int)? {
        var (minX, maxX, minY, maxY) = (Int.max, -1, Int.max, -1)
        for y in 0..<rgba.height {
            for x in 0..<rgba.width where rgba[x, y, 3] >= 0.5 {
                (minX, maxX, minY, maxY) = (min(minX, x), max(maxX, x), min(minY, y), max(maxY, y))
            }
        }
        return maxX < 0 ? nil : (minX, maxX + 1, minY, maxY + 1)
    }

    /// An RGB or gray portrait: accepted only square and on white (its border near white).
    static func opaque(_ image: Image, size: Int, source: String) throws -> Tensor {
        let advice = "give an RGBA PNG (the head's alpha lets Relief frame it), or a square image of the head on white framed as the training renders"
        guard image.width == image.height else {
            throw DataError(source, "the portrait is \(image.width)×\(image.height) without alpha: it cannot be framed; " + advice)
        }
        let rgb = image.converted(toChannels: 3)
        var border: [Float] = []
        for i in 0..<rgb.width {
            for (x, y) in [(i, 0), (i, rgb.height - 1), (0, i), (rgb.width - 1, i)] {
                border.append((rgb[x, y, 0] + rgb[x, y, 1] + rgb[x, y, 2]) / 3)
            }
        }
        let whiteShare = Float(border.filter { $0 >= 0.9 }.count) / Float(border.count)
        guard whiteShare >= 0.9 else {
            throw DataError(source, String(format: "the portrait has no alpha and only %.0f%% of its border is white: the models were trained on "
                                           + "heads on white; ", whiteShare * 100) + advice)
        }
        return onWhite(rgb.resized(width: size, height: size))
    }

    /// Planar [1, 3, H, W] composited on white (straight alpha).
    static func onWhite(_ image: Image) -> Tensor {
        let plane = image.width * image.height, c = image.channels
        let out = Tensor(uninitializedShape: [1, 3, image.height, image.width])
        for p in 0..<plane {
            let alpha = image.hasAlpha ? image.pixels[p * c + c - 1] : 1
            for k in 0..<3 { out.storage.base[k * plane + p] = min(max(image.pixels[p * c + k] * alpha + (1 - alpha), 0), 1) }
        }
        return out
    }
}
