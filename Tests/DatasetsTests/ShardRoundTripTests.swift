import Datasets
import Foundation
import Tensors
import XCTest

final class ShardRoundTripTests: XCTestCase {
    var root: String!, out: String!

    override func setUpWithError() throws {
        root = try Fixtures.temporaryFolder("renders")
        out = try Fixtures.temporaryFolder("dataset") + "/ds"
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: out).deletingLastPathComponent().path)
    }

    func testPNGToShardToBatchIsBitExact() throws {
        for s in 0..<5 { try Fixtures.subject(root: root, id: "s\(s)", index: s) }
        var options = DatasetConverter.Options(inputs: [root], output: out)
        options.shardSize = 2
        options.valFraction = 0
        let report = try DatasetConverter(options).run()
        XCTAssertEqual(report.shardsWritten, 3)
        XCTAssertEqual(report.manifest.shards.map(\.samples), [2, 2, 1])
        XCTAssertEqual(Fixtures.listing(out), ["manifest.json", "shard-00000.h5", "shard-00001.h5", "shard-00002.h5"])

        let dataset = try ShardedDataset(out)
        XCTAssertEqual(dataset.count, 5)
        XCTAssertEqual([dataset.views, dataset.height, dataset.width], [6, 16, 16])
        // Shard bytes are exactly the PNGs' bytes.
        for i in 0..<5 {
            let (shard, j) = dataset.locate(i)
            let expected = (0..<6).flatMap { Fixtures.pixels(subject: i, view: $0, width: 16, height: 16, channels: 4) }
            XCTAssertEqual(try shard.readSample(j), expected, "sample \(i)")
            XCTAssertEqual(dataset.subject(i), "s\(i)")
        }
        XCTAssertEqual(try DatasetVerifier.verify(out).samples, 5)

        // Batches: composited exactly as c·a + bg·(1 − a) in Float, cameras equal to the JSON.
        let selection = ViewSelection.fixed([5, 0, 3])
        let assembler = BatchAssembler(dataset: dataset, selection: selection, background: .gray, seed: 1)
        var scratch = [UInt8](repeating: 0, count: 16 * 16 * 4)
        let cursor = DistributedSampler.Cursor()
        let batch = try assembler.assemble([3, 1], cursor: cursor, next: cursor, scratch: &scratch)
        XCTAssertEqual(batch.images.shape, [2, 3, 3, 16, 16])
        XCTAssertEqual(batch.alpha.shape, [2, 3, 1, 16, 16])
        XCTAssertEqual(batch.intrinsics.shape, [2, 3, 4])
        XCTAssertEqual(batch.w2c.shape, [2, 3, 4, 4])
        let images = batch.images.scalars, alpha = batch.alpha.scalars
        for (b, sample) in [3, 1].enumerated() {
            let cameras = try CameraFile.read(root + "/s\(sample)/opencv_cameras.json")
            for (j, view) in [5, 0, 3].enumerated() {
                let rgba = Fixtures.pixels(subject: sample, view: view, width: 16, height: 16, channels: 4)
                for p in 0..<256 {
                    let a = Float(rgba[4 * p + 3]) * (1 / 255)
                    XCTAssertEqual(alpha[(b * 3 + j) * 256 + p], a)
                    for c in 0..<3 {
                        let expected = Float(rgba[4 * p + c]) * (1 / 255) * a + 0.5 * (1 - a)
                        XCTAssertEqual(images[((b * 3 + j) * 3 + c) * 256 + p], expected)
                    }
                }
                let base = (b * 3 + j)
                XCTAssertEqual(Array(batch.intrinsics.scalars[base * 4 ..< base * 4 + 4]), cameras.frames[view].intrinsics.map { Float($0) })
                XCTAssertEqual(Array(batch.w2c.scalars[base * 16 ..< base * 16 + 16]), cameras.frames[view].w2c.map { Float($0) })
            }
        }
    }

    func testResizeScalesIntrinsicsAndAveragesArea() throws {
        // 16-bit gray+alpha 32×24 views, converted to 8×8: anisotropic scale, intrinsics follow.
        let folder = root + "/big"
        try FileManager.default.createDirectory(atPath: folder + "/images", withIntermediateDirectories: true)
        var frames = [CameraFrame]()
        for v in 0..<2 {
            let frame = Fixtures.orbitCamera(view: v, of: 2, width: 32, height: 24)
            // Fine checkerboard of 0 and 65535, opaque: area-averages to mid gray.
            var data = [UInt16]()
            for y in 0..<24 { for x in 0..<32 { data += [(x + y) % 2 == 0 ? 65535 : 0, 65535] } }
            try data.withUnsafeBufferPointer { try PNG.write(folder + "/" + frame.filePath, uint16: $0, width: 32, height: 24, channels: 2) }
            frames.append(frame)
        }
        try CameraFile(id: "big", frames: frames).write(folder + "/opencv_cameras.json")
        var options = DatasetConverter.Options(inputs: [root], output: out, resolution: 8)
        options.valFraction = 0
        try DatasetConverter(options).run()
        let dataset = try ShardedDataset(out)
        let (shard, _) = dataset.locate(0)
        let bytes = try shard.readSample(0)
        XCTAssertEqual(bytes.count, 2 * 8 * 8 * 4)
        for p in 0..<(2 * 64) {
            for c in 0..<3 { XCTAssertEqual(Int(bytes[4 * p + c]), 128, accuracy: 2) }
            XCTAssertEqual(bytes[4 * p + 3], 255)
        }
        let k = Array(dataset.intrinsics(0).prefix(4))
        let f = frames[0]
        XCTAssertEqual(k[0], Float(f.fx * 8 / 32), accuracy: 1e-4)
        XCTAssertEqual(k[1], Float(f.fy * 8 / 24), accuracy: 1e-4)
        XCTAssertEqual(k[2], 4, accuracy: 1e-5)
        XCTAssertEqual(k[3], 4, accuracy: 1e-5)
    }

    func testSplitKeepsIdentitiesTogether() throws {
        for s in 0..<12 { try Fixtures.subject(root: root, id: String(format: "subj%02d", s), index: s, identity: "person\(s % 4)", views: 2, width: 4, height: 4) }
        var options = DatasetConverter.Options(inputs: [root], output: out)
        options.valFraction = 0.25
        options.shardSize = 5
        let manifest = try DatasetConverter(options).run().manifest
        let train = try ShardedDataset(out, split: "train"), val = try ShardedDataset(out, split: "val")
        XCTAssertEqual(train.count + val.count, 12)
        XCTAssertEqual(val.count, 3) // one identity of four, three subjects each
        let trainIdentities = Set((0..<train.count).map(train.identity)), valIdentities = Set((0..<val.count).map(val.identity))
        XCTAssertTrue(trainIdentities.isDisjoint(with: valIdentities))
        XCTAssertEqual(trainIdentities.count, 3)
        XCTAssertEqual(manifest.splits["val"]?.identities, valIdentities.sorted())
        // Shards are split-pure.
        for shard in train.shards { XCTAssertEqual(shard.split, "train") }
        for shard in val.shards { XCTAssertEqual(shard.split, "val") }
        // Deterministic in the seed.
        XCTAssertEqual(IdentitySplit.validationIdentities((0..<4).map { "person\($0)" }, fraction: 0.25, seed: 0), valIdentities)
    }

    func testRerunSkipsFinishedShardsAndRebuildsMissingOnes() throws {
        for s in 0..<4 { try Fixtures.subject(root: root, id: "s\(s)", index: s, views: 2, width: 8, height: 8) }
        var options = DatasetConverter.Options(inputs: [root], output: out)
        options.shardSize = 2
        options.valFraction = 0
        let first = try DatasetConverter(options).run()
        XCTAssertEqual(first.shardsWritten, 2)
        let again = try DatasetConverter(options).run()
        XCTAssertEqual([again.shardsWritten, again.shardsSkipped], [0, 2])
        XCTAssertEqual(again.manifest, first.manifest)
        try FileManager.default.removeItem(atPath: out + "/shard-00001.h5")
        // Leftovers of an interrupted run: a temporary shard and no manifest.
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: out + "/.shard-00001.h5.tmp-999-1"))
        try FileManager.default.removeItem(atPath: out + "/manifest.json")
        let repaired = try DatasetConverter(options).run()
        XCTAssertEqual([repaired.shardsWritten, repaired.shardsSkipped], [1, 1])
        XCTAssertEqual(repaired.manifest, first.manifest)
        XCTAssertEqual(Fixtures.listing(out), ["manifest.json", "shard-00000.h5", "shard-00001.h5"])
        // A different plan (resolution) rebuilds everything.
        options.resolution = 4
        XCTAssertEqual(try DatasetConverter(options).run().shardsWritten, 2)
    }
}
