import CPNGCodec
import Foundation

/// PNG reading and writing through libpng (Sources/CPNGCodec owns libpng's setjmp error handling).
/// Every failure throws a `DataError` naming the file. Writes go to a temporary name in the same
/// folder and are renamed into place only when complete, so an interrupted write leaves nothing.
extension Image {
    /// Decodes any PNG: 1–16-bit gray, gray+alpha, RGB, RGBA or palette. Palette images become
    /// RGB (RGBA with transparency), low-depth gray becomes 8-bit; samples are scaled to [0, 1]
    /// by the source's maximum (255 or 65535). `bitDepth` is 8 or 16.
    public static func readPNG(_ path: String) throws -> Image {
        var decoded = relief_png_image()
        try PNG.check(path) { relief_png_read_file(path, &decoded, $0, $1) }
        defer { relief_png_free(&decoded) }
        let width = Int(decoded.width), height = Int(decoded.height), channels = Int(decoded.channels)
        let count = width * height * channels
        var pixels = [Float](repeating: 0, count: count)
        pixels.withUnsafeMutableBufferPointer { out in
            if decoded.bit_depth == 16 {
                let src = decoded.pixels.assumingMemoryBound(to: UInt16.self)
                for i in 0..<count { out[i] = Float(src[i]) * (1 / 65535) }
            } else {
                let src = decoded.pixels.assumingMemoryBound(to: UInt8.self)
                for i in 0..<count { out[i] = Float(src[i]) * (1 / 255) }
            }
        }
        return Image(width: width, height: height, channels: channels, bitDepth: Int(decoded.bit_depth), pixels: pixels)
    }

    /// Writes the image as an 8- or 16-bit PNG with its own channel count. Values are clamped to
    /// [0, 1] and rounded to nearest. `compressionLevel` is zlib's 0…9 (−1: libpng default).
    public func writePNG(_ path: String, bitDepth: Int = 8, compressionLevel: Int = -1) throws {
        switch bitDepth {
        case 8:
            try quantized8().withUnsafeBufferPointer {
                try PNG.write(path, uint8: $0, width: width, height: height, channels: channels, compressionLevel: compressionLevel)
            }
        case 16:
            try quantized16().withUnsafeBufferPointer {
                try PNG.write(path, uint16: $0, width: width, height: height, channels: channels, compressionLevel: compressionLevel)
            }
        default:
            throw DataError(path, "PNG bit depth must be 8 or 16, not \(bitDepth)")
        }
    }
}

/// Raw PNG access: header probing and writing straight from interleaved integer buffers
/// (the fast path for renderers that already hold UInt8 or UInt16 pixels).
public enum PNG {
    /// Width, height, channels and bit depth as `Image.readPNG` would deliver them, reading only the header.
    public static func info(_ path: String) throws -> (width: Int, height: Int, channels: Int, bitDepth: Int) {
        var decoded = relief_png_image()
        try check(path) { relief_png_read_info(path, &decoded, $0, $1) }
        return (Int(decoded.width), Int(decoded.height), Int(decoded.channels), Int(decoded.bit_depth))
    }

    /// Decodes to raw 8-bit samples (16-bit sources are rounded to 8 bits), interleaved, with the
    /// file's own channel count.
    public static func read8(_ path: String) throws -> (pixels: [UInt8], width: Int, height: Int, channels: Int) {
        var decoded = relief_png_image()
        try check(path) { relief_png_read_file(path, &decoded, $0, $1) }
        defer { relief_png_free(&decoded) }
        let count = Int(decoded.width) * Int(decoded.height) * Int(decoded.channels)
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { out, n in
            if decoded.bit_depth == 16 {
                let src = decoded.pixels.assumingMemoryBound(to: UInt16.self)
                // round(v · 255 / 65535) exactly, in integers
                for i in 0..<count { out[i] = UInt8((UInt32(src[i]) * 255 + 32767) / 65535) }
            } else {
                out.baseAddress!.initialize(from: decoded.pixels.assumingMemoryBound(to: UInt8.self), count: count)
            }
            n = count
        }
        return (pixels, Int(decoded.width), Int(decoded.height), Int(decoded.channels))
    }

    /// Writes interleaved 8-bit samples (`channels` 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA).
    public static func write(_ path: String, uint8 pixels: UnsafeBufferPointer<UInt8>, width: Int, height: Int,
                             channels: Int, compressionLevel: Int = -1) throws {
        try write(path, UnsafeRawPointer(pixels.baseAddress), count: pixels.count, width: width, height: height,
                  channels: channels, bitDepth: 8, compressionLevel: compressionLevel)
    }

    /// Writes interleaved 16-bit samples in native byte order.
    public static func write(_ path: String, uint16 pixels: UnsafeBufferPointer<UInt16>, width: Int, height: Int,
                             channels: Int, compressionLevel: Int = -1) throws {
        try write(path, UnsafeRawPointer(pixels.baseAddress), count: pixels.count, width: width, height: height,
                  channels: channels, bitDepth: 16, compressionLevel: compressionLevel)
    }

    static func write(_ path: String, _ pixels: UnsafeRawPointer?, count: Int, width: Int, height: Int,
                      channels: Int, bitDepth: Int, compressionLevel: Int) throws {
        guard width > 0, height > 0, (1...4).contains(channels) else {
            throw DataError(path, "cannot write a \(width)×\(height) PNG with \(channels) channels")
        }
        guard let pixels, count == width * height * channels else {
            throw DataError(path, "PNG buffer holds \(count) samples, expected \(width)×\(height)×\(channels)")
        }
        let temporary = AtomicFile.temporaryPath(for: path)
        do {
            try check(path) {
                relief_png_write_file(temporary, pixels, UInt32(width), UInt32(height), UInt32(channels),
                                      UInt32(bitDepth), Int32(compressionLevel), $0, $1)
            }
            try AtomicFile.commit(temporary, to: path)
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Runs a codec call with an error buffer and turns a failure into a `DataError` naming `path`.
    static func check(_ path: String, _ call: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws {
        var message = [CChar](repeating: 0, count: 512)
        let status = message.withUnsafeMutableBufferPointer { call($0.baseAddress!, $0.count) }
        if status != 0 {
            let text = String(cString: message)
            throw DataError(path, "PNG: \(text.isEmpty ? "unknown libpng error" : text)")
        }
    }
}
