import Datasets
import Foundation
import XCTest

/// Every bad input fails with an error naming the file and leaves nothing half-written: no
/// temporary, no manifest, and only shards that were complete before the bad subject (which a
/// re-run after fixing the input reuses).
final class BadInputTests: XCTestCase {
    var root: String!, out: String!

    override func setUpWithError() throws {
        root = try Fixtures.temporaryFolder("bad")
        out = root + "/dataset"
        for s in 0..<3 { try Fixtures.subject(root: root + "/renders", id: "s\(s)", index: s, views: 3, width: 8, height: 8) }
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: root) }

    func convert() throws {
        var options = DatasetConverter.Options(inputs: [root + "/renders"], output: out)
        options.valFraction = 0
        options.shardSize = 2
        options.compression = 0
        try DatasetConverter(options).run()
    }

    /// Conversion fails naming `file`; the output holds no temporary or manifest, and any shard
    /// left is complete.
    func assertConversionFails(naming file: String, _ detail: String, line: UInt = #line) {
        XCTAssertThrowsError(try convert(), line: line) { error in
            XCTAssertTrue("\(error)".contains(file), "error should name \(file): \(error)", line: line)
            XCTAssertTrue("\(error)".contains(detail), "error should say \(detail): \(error)", line: line)
        }
        let left = Fixtures.listing(out)
        XCTAssertEqual(left.filter { $0.contains(".tmp-") || $0 == "manifest.json" }, [], line: line)
        for shard in left where shard.hasSuffix(".h5") {
            XCTAssertNoThrow(try ShardReader(out + "/" + shard), line: line)
        }
    }

    func testCorruptPNG() throws {
        let path = root + "/renders/s1/images/cam_002.png"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count - 20] ^= 0x5A // inside IDAT / its CRC
        try bytes.write(to: URL(fileURLWithPath: path))
        assertConversionFails(naming: path, "PNG")
    }

    func testTruncatedPNG() throws {
        let path = root + "/renders/s2/images/cam_000.png"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count - 30).write(to: URL(fileURLWithPath: path))
        assertConversionFails(naming: path, "PNG")
    }

    func testMissingCameraKey() throws {
        let path = root + "/renders/s0/opencv_cameras.json"
        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "\"fy\"", with: "\"fyy\"")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        assertConversionFails(naming: path, "'fy'")
    }

    func testMissingCameraFile() throws {
        let path = root + "/renders/s1/opencv_cameras.json"
        try FileManager.default.removeItem(atPath: path)
        assertConversionFails(naming: path, "missing")
    }

    func testImageSizeMismatch() throws {
        let path = root + "/renders/s2/images/cam_001.png"
        let small = [UInt8](repeating: 200, count: 6 * 8 * 4)
        try small.withUnsafeBufferPointer { try PNG.write(path, uint8: $0, width: 6, height: 8, channels: 4) }
        assertConversionFails(naming: path, "6×8")
    }

    func testMismatchedViewCount() throws {
        try Fixtures.subject(root: root + "/renders", id: "s9", index: 9, views: 4, width: 8, height: 8)
        assertConversionFails(naming: root + "/renders/s9/opencv_cameras.json", "4 views")
    }

    func testTruncatedShard() throws {
        try convert()
        let path = out + "/shard-00001.h5"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ShardedDataset(out)) { XCTAssertTrue("\($0)".contains(path), "\($0)") }
        XCTAssertThrowsError(try DatasetVerifier.verify(out)) { XCTAssertTrue("\($0)".contains(path), "\($0)") }
    }

    /// Flips bits of one image byte inside the (uncompressed) first shard, found by its fixture
    /// pattern (subjects 0 and 1 are its samples 0 and 1); returns the shard's path.
    func damage(subject: Int, view: Int, byte: Int, mask: UInt8) throws -> String {
        let path = out + "/shard-00000.h5"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let needle = Data(Fixtures.pixels(subject: subject, view: view, width: 8, height: 8, channels: 4).prefix(32))
        let range = try XCTUnwrap(bytes.range(of: needle))
        bytes[range.lowerBound + byte] ^= mask
        try bytes.write(to: URL(fileURLWithPath: path))
        return path
    }

    func testVerifyNamesFirstBadSample() throws {
        try convert()
        XCTAssertEqual(try DatasetVerifier.verify(out).samples, 3)
        let path = try damage(subject: 1, view: 0, byte: 5, mask: 0xFF)
        XCTAssertThrowsError(try DatasetVerifier.verify(out)) { error in
            XCTAssertTrue("\(error)".contains(path), "\(error)")
            XCTAssertTrue("\(error)".contains("sample 1"), "\(error)")
            XCTAssertTrue("\(error)".contains("checksum"), "\(error)")
        }
    }

    /// Pixels flipped after writing never reach a batch: the loader checks each view it reads
    /// against its checksum and names shard, sample, subject and view.
    func testLoaderRefusesDamagedViewsNamingShardSampleAndView() throws {
        try convert()
        let path = try damage(subject: 1, view: 2, byte: 9, mask: 0x01)
        let data = try ShardedDataset(out)
        XCTAssertNotNil(data.shards[0].viewChecksums, "new shards carry per-view checksums")
        var scratch = [UInt8]()
        func batch(_ sample: Int, views: [Int]) throws -> Batch {
            let assembler = BatchAssembler(dataset: data, selection: .fixed(views), background: .white, seed: 0)
            return try assembler.assemble([sample], cursor: .init(), next: .init(), scratch: &scratch)
        }
        // The damaged view is refused; the sample's intact views and other samples still load.
        XCTAssertThrowsError(try batch(1, views: [0, 2])) { error in
            XCTAssertEqual("\(error)".components(separatedBy: ": image checksum").first, "\(path): sample 1 (subject 's1') view 2")
            XCTAssertTrue("\(error)".contains("differs from the shard's"), "\(error)")
        }
        XCTAssertEqual(try batch(1, views: [0, 1]).count, 1)
        XCTAssertEqual(try batch(0, views: [0, 1, 2]).count, 1)
        // Through the prefetching loader the error reaches the consumer.
        let loader = try BatchLoader(dataset: data, sampler: DistributedSampler(count: data.count, batchSize: 3, shuffle: false),
                                     selection: .fixed([2]))
        XCTAssertThrowsError(try loader.next()) { XCTAssertTrue("\($0)".contains("sample 1 (subject 's1') view 2"), "\($0)") }
        XCTAssertThrowsError(try DatasetVerifier.verify(out)) { XCTAssertTrue("\($0)".contains("sample 1 (subject 's1') view 2"), "\($0)") }
    }

    func testEmptySplitIsAnError() throws {
        try convert()
        XCTAssertThrowsError(try ShardedDataset(out, split: "val")) { XCTAssertTrue("\($0)".contains("no samples"), "\($0)") }
    }

    func testMissingDatasetAndManifest() {
        XCTAssertThrowsError(try ShardedDataset(root + "/nothing")) { XCTAssertTrue("\($0)".contains("manifest.json"), "\($0)") }
        XCTAssertThrowsError(try DatasetConverter(.init(inputs: [root + "/absent"], output: out)).run()) {
            XCTAssertTrue("\($0)".contains(self.root + "/absent"), "\($0)")
        }
    }
}
