import Tensors

/// An image as interleaved Float samples in [0, 1]: row-major, top row first, `channels`
/// samples per pixel (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA). Float keeps resampling and
/// compositing exact enough for 16-bit sources; `bitDepth` remembers what the source held so
/// a round trip can write the same depth back. 8- and 16-bit values survive a Float round trip
/// exactly (v / 255 → round(x · 255) == v).
public struct Image: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var channels: Int
    /// Bits per sample of the source (8 or 16); informational.
    public var bitDepth: Int
    /// width · height · channels samples, interleaved.
    public var pixels: [Float]

    public init(width: Int, height: Int, channels: Int, bitDepth: Int = 8, pixels: [Float]) {
        check(width > 0 && height > 0 && (1...4).contains(channels), "Image: bad size \(width)×\(height)×\(channels)")
        check(pixels.count == width * height * channels, "Image: \(pixels.count) samples for \(width)×\(height)×\(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.bitDepth = bitDepth
        self.pixels = pixels
    }

    public init(width: Int, height: Int, channels: Int, bitDepth: Int = 8, repeating value: Float = 0) {
        self.init(width: width, height: height, channels: channels, bitDepth: bitDepth,
                  pixels: [Float](repeating: value, count: width * height * channels))
    }

    public var hasAlpha: Bool { channels == 2 || channels == 4 }

    /// Sample at (x, y, c).
    @inlinable public subscript(x: Int, y: Int, c: Int) -> Float {
        get { pixels[(y * width + x) * channels + c] }
        set { pixels[(y * width + x) * channels + c] = newValue }
    }

    /// The same image with `count` channels: gray is replicated into RGB, a missing alpha is
    /// opaque (1), a dropped alpha is simply removed, RGB → gray uses Rec. 709 luma.
    public func converted(toChannels count: Int) -> Image {
        check((1...4).contains(count), "Image.converted: channels must be 1...4")
        if count == channels { return self }
        let srcHasAlpha = hasAlpha, dstHasAlpha = count == 2 || count == 4
        let srcColor = srcHasAlpha ? channels - 1 : channels
        let dstColor = dstHasAlpha ? count - 1 : count
        var out = [Float](repeating: 0, count: width * height * count)
        let src = channels
        pixels.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                for p in 0..<(width * height) {
                    let i = p * src, o = p * count
                    if dstColor == srcColor {
                        for c in 0..<dstColor { d[o + c] = s[i + c] }
                    } else if dstColor == 3 {
                        d[o] = s[i]; d[o + 1] = s[i]; d[o + 2] = s[i]
                    } else {
                        d[o] = 0.2126 * s[i] + 0.7152 * s[i + 1] + 0.0722 * s[i + 2]
                    }
                    if dstHasAlpha { d[o + dstColor] = srcHasAlpha ? s[i + srcColor] : 1 }
                }
            }
        }
        return Image(width: width, height: height, channels: count, bitDepth: bitDepth, pixels: out)
    }

    /// Clamps to [0, 1]; NaN becomes 0 (so quantising never traps).
    @inline(__always) static func unit(_ x: Float) -> Float { x > 0 ? (x < 1 ? x : 1) : 0 }

    /// Samples quantised to 8 bits (round to nearest, clamped), interleaved.
    public func quantized8() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: pixels.count) { out, n in
            pixels.withUnsafeBufferPointer { s in
                for i in 0..<s.count { out[i] = UInt8(Image.unit(s[i]) * 255 + 0.5) }
            }
            n = pixels.count
        }
    }

    /// Samples quantised to 16 bits (round to nearest, clamped), interleaved.
    public func quantized16() -> [UInt16] {
        [UInt16](unsafeUninitializedCapacity: pixels.count) { out, n in
            pixels.withUnsafeBufferPointer { s in
                for i in 0..<s.count { out[i] = UInt16(Image.unit(s[i]) * 65535 + 0.5) }
            }
            n = pixels.count
        }
    }
}
