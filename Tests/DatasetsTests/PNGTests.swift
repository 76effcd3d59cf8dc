import Foundation
import XCTest
import Datasets

final class PNGTests: XCTestCase {
    var folder: String!

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "relief-png-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    func pattern(_ count: Int, modulo: Int) -> [Int] { (0..<count).map { ($0 * 7919 + $0 / 3) % modulo } }

    func testRoundTrip8BitEveryChannelCount() throws {
        for channels in 1...4 {
            let (w, h) = (13, 7)
            let raw = pattern(w * h * channels, modulo: 256).map { UInt8($0) }
            let path = "\(folder!)/c\(channels).png"
            try raw.withUnsafeBufferPointer { try PNG.write(path, uint8: $0, width: w, height: h, channels: channels) }
            let image = try Image.readPNG(path)
            XCTAssertEqual([image.width, image.height, image.channels, image.bitDepth], [w, h, channels, 8])
            XCTAssertEqual(image.quantized8(), raw)
            let again = try PNG.read8(path)
            XCTAssertEqual(again.pixels, raw)
            // Float image → PNG → Float image is exact too.
            let path2 = "\(folder!)/c\(channels)-again.png"
            try image.writePNG(path2)
            XCTAssertEqual(try Image.readPNG(path2), image)
        }
    }

    func testRoundTrip16Bit() throws {
        for channels in [1, 3, 4] {
            let (w, h) = (9, 11)
            let raw = pattern(w * h * channels, modulo: 65536).map { UInt16($0) }
            let path = "\(folder!)/d\(channels).png"
            try raw.withUnsafeBufferPointer { try PNG.write(path, uint16: $0, width: w, height: h, channels: channels) }
            let image = try Image.readPNG(path)
            XCTAssertEqual(image.bitDepth, 16)
            XCTAssertEqual(image.quantized16(), raw)
            let eight = try PNG.read8(path).pixels
            XCTAssertEqual(eight, raw.map { UInt8((Double($0) * 255 / 65535).rounded()) })
            let info = try PNG.info(path)
            XCTAssertEqual(info.width, w); XCTAssertEqual(info.height, h); XCTAssertEqual(info.channels, channels)
        }
    }

    func testChannelConversion() {
        let gray = Image(width: 1, height: 1, channels: 1, pixels: [0.25])
        XCTAssertEqual(gray.converted(toChannels: 4).pixels, [0.25, 0.25, 0.25, 1])
        let ga = Image(width: 1, height: 1, channels: 2, pixels: [0.5, 0.75])
        XCTAssertEqual(ga.converted(toChannels: 4).pixels, [0.5, 0.5, 0.5, 0.75])
        let rgba = Image(width: 1, height: 1, channels: 4, pixels: [0.1, 0.2, 0.3, 0.4])
        XCTAssertEqual(rgba.converted(toChannels: 3).pixels, [0.1, 0.2, 0.3])
    }

    func testCorruptAndTruncatedFilesThrowNamingTheFile() throws {
        let (w, h) = (32, 32)
        let raw = pattern(w * h * 3, modulo: 256).map { UInt8($0) }
        let good = "\(folder!)/good.png"
        try raw.withUnsafeBufferPointer { try PNG.write(good, uint8: $0, width: w, height: h, channels: 3, compressionLevel: 0) }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))

        let truncated = "\(folder!)/truncated.png"
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        XCTAssertThrowsError(try Image.readPNG(truncated)) { XCTAssertTrue("\($0)".contains(truncated), "\($0)") }

        var flipped = bytes
        flipped[bytes.count / 2] ^= 0xFF // inside IDAT: CRC mismatch
        let corrupt = "\(folder!)/corrupt.png"
        try flipped.write(to: URL(fileURLWithPath: corrupt))
        XCTAssertThrowsError(try Image.readPNG(corrupt)) { XCTAssertTrue("\($0)".contains(corrupt), "\($0)") }

        let notPNG = "\(folder!)/text.png"
        try Data("hello, not a png".utf8).write(to: URL(fileURLWithPath: notPNG))
        XCTAssertThrowsError(try Image.readPNG(notPNG)) { XCTAssertTrue("\($0)".contains("signature"), "\($0)") }

        XCTAssertThrowsError(try Image.readPNG("\(folder!)/missing.png")) { XCTAssertTrue("\($0)".contains("missing.png")) }
    }

    func testFailedWriteLeavesNothing() throws {
        let path = "\(folder!)/no-such-dir/x.png"
        XCTAssertThrowsError(try Image(width: 2, height: 2, channels: 3).writePNG(path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder!), [])
    }
}

/// PNGs in layouts Relief's writer never produces (palette with transparency, 1-bit gray,
/// interlaced RGB), built byte by byte: zlib stream of stored blocks, chunk CRCs.
final class PNGLayoutTests: XCTestCase {
    static func png(width: Int, height: Int, bitDepth: UInt8, colorType: UInt8, interlace: UInt8 = 0,
                    extra: [(String, [UInt8])] = [], scanlines: [UInt8]) -> Data {
        func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            let typed = Array(type.utf8) + body
            return be32(body.count) + typed + be32(Int(CRC32.checksum(typed)))
        }
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in scanlines { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        let n = scanlines.count
        let zlib: [UInt8] = [0x78, 0x01, 0x01, UInt8(n & 255), UInt8(n >> 8), UInt8(~n & 255), UInt8((~n >> 8) & 255)]
            + scanlines + be32(Int(b << 16 | a))
        var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        bytes += chunk("IHDR", be32(width) + be32(height) + [bitDepth, colorType, 0, 0, interlace])
        for (type, body) in extra { bytes += chunk(type, body) }
        bytes += chunk("IDAT", zlib) + chunk("IEND", [])
        return Data(bytes)
    }

    func decode(_ data: Data) throws -> Image {
        let path = NSTemporaryDirectory() + "relief-layout-\(UUID().uuidString).png"
        defer { unlink(path) }
        try data.write(to: URL(fileURLWithPath: path))
        return try Image.readPNG(path)
    }

    func testPaletteWithTransparencyBecomesRGBA() throws {
        // 2×2, 8-bit indices 0 1 / 2 0; palette red, green, blue; tRNS makes entry 1 half transparent.
        let data = Self.png(width: 2, height: 2, bitDepth: 8, colorType: 3,
                            extra: [("PLTE", [255, 0, 0, 0, 255, 0, 0, 0, 255]), ("tRNS", [255, 128])],
                            scanlines: [0, 0, 1, 0, 2, 0])
        let image = try decode(data)
        XCTAssertEqual(image.channels, 4)
        XCTAssertEqual(image.quantized8(), [255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 255, 255, 0, 0, 255])
    }

    func testOneBitGrayExpandsTo8Bit() throws {
        // 3×1 pixels 1 0 1 packed into one byte 0b1010_0000.
        let image = try decode(Self.png(width: 3, height: 1, bitDepth: 1, colorType: 0, scanlines: [0, 0b1010_0000]))
        XCTAssertEqual([image.channels, image.bitDepth], [1, 8])
        XCTAssertEqual(image.quantized8(), [255, 0, 255])
    }

    func testInterlacedRGB() throws {
        // Adam7 on a 1×1 image is a single pass with one scanline.
        let image = try decode(Self.png(width: 1, height: 1, bitDepth: 8, colorType: 2, interlace: 1, scanlines: [0, 10, 20, 30]))
        XCTAssertEqual(image.quantized8(), [10, 20, 30])
    }
}
