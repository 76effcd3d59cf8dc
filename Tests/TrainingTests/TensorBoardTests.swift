import Checkpoints
import Distributed
import Foundation
import XCTest
@testable import Training

/// TensorBoard event files without TensorBoard: checksums against published vectors, bytes
/// against those TensorBoard's own classes produce (scripts/fixtures/tensorboard_events.py),
/// and a training run whose events parse back and agree with metrics.jsonl.
final class TensorBoardTests: XCTestCase {
    func testCRC32CMatchesRFC3720AndTensorFlowsMask() {
        // RFC 3720, B.4, and the common check value of "123456789".
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }), 0x113F_DB5C)
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        // The masked CRC TensorBoard's RecordWriter stored for a length of 24 (the fixture's first record).
        XCTAssertEqual(CRC32C.masked(TFRecord.frame([UInt8](repeating: 7, count: 24)).prefix(8)), 0x224B_7FA3)
    }

    /// The fixture's events, as TensorBoardEvent values.
    static let events: [TensorBoardEvent] = [
        .init(wallTime: 1_700_000_000.25, step: 0, .fileVersion("brain.Event:2")),
        .init(wallTime: 1_700_000_001.5, step: 7, .sessionStart),
        .init(wallTime: 1_700_000_002.125, step: 300_000, .summary([
            .init(tag: "train/grad_norm", .scalar(0)), .init(tag: "train/loss", .scalar(0.0123456789)), .init(tag: "train/lr", .scalar(.nan)),
        ])),
        .init(wallTime: 1_700_000_003, step: 18, .summary([
            .init(tag: "eval/grid", .image(.init(height: 2, width: 300, colorspace: 3, png: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0xFF]))),
        ])),
        .init(wallTime: 1_700_000_004.75, step: 1, .summary([.init(tag: "recipe", .text("```yaml\nrun_name: tést\nseed: 5\n```"))])),
    ]

    // Printed by scripts/fixtures/tensorboard_events.py (tensorboard 2.21.0, protobuf 7.36.2).
    static let expectedEvents = [
        "0900001040fc54d9411a0d627261696e2e4576656e743a32",
        "0900006040fc54d94110073a020801",
        "0900008840fc54d94110e0a7122a3c0a160a0f747261696e2f677261645f6e6f726d15000000000a110a0a747261696e2f6c6f73731588454a3c0a0f0a08747261696e2f6c72150000c07f",
        "090000c040fc54d94110122a220a200a096576616c2f677269642213080210ac021803220a89504e470d0a1a0a00ff",
        "0900003041fc54d94110012a3f0a3d0a06726563697065422908071200422360606079616d6c0a72756e5f6e616d653a2074c3a973740a736565643a20350a6060604a080a060a0474657874",
    ]
    static let expectedFile = "1800000000000000a37f4b220900001040fc54d9411a0d627261696e2e4576656e743a32338d2fe90f000000000000006d532b090900006040fc54d94110073a02080165b49f664b00000000000000870999960900008840fc54d94110e0a7122a3c0a160a0f747261696e2f677261645f6e6f726d15000000000a110a0a747261696e2f6c6f73731588454a3c0a0f0a08747261696e2f6c72150000c07f8c9c073b2f000000000000006d5d1d50090000c040fc54d94110122a220a200a096576616c2f677269642213080210ac021803220a89504e470d0a1a0a00fff0fffb3f4c00000000000000f5d4a2a00900003041fc54d94110012a3f0a3d0a06726563697065422908071200422360606079616d6c0a72756e5f6e616d653a2074c3a973740a736565643a20350a6060604a080a060a04746578747f3ca740"

    static func hex(_ bytes: some Sequence<UInt8>) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
    static func bytes(_ hex: String) -> [UInt8] {
        let c = Array(hex.utf8)
        return stride(from: 0, to: c.count, by: 2).map { UInt8(String(decoding: c[$0..<($0 + 2)], as: UTF8.self), radix: 16)! }
    }

    func testEventsEncodeToTheBytesOfTensorBoardsProtobufAndRecordWriter() throws {
        for (event, expected) in zip(Self.events, Self.expectedEvents) {
            XCTAssertEqual(Self.hex(event.encoded), expected, "\(event.content)")
        }
        XCTAssertEqual(Self.hex(Self.events.flatMap { TFRecord.frame($0.encoded) }), Self.expectedFile)
        // And TensorBoard's bytes decode to the same events (compared re-encoded: NaN ≠ NaN).
        let read = TFRecord.read(Self.bytes(Self.expectedFile))
        XCTAssertNil(read.damage)
        XCTAssertEqual(try read.records.map { Self.hex(try TensorBoardEvent(decoding: $0).encoded) }, Self.expectedEvents)
        XCTAssertEqual(try TensorBoardEvent(decoding: read.records[4][...]), Self.events[4])
        XCTAssertEqual(try read.records.map { try TensorBoardEvent.step(of: $0) }, [0, 7, 300_000, 18, 1])
    }

    func testReadingStopsAtTheFirstDamagedRecord() {
        let file = Self.bytes(Self.expectedFile)
        let lengths = Self.expectedEvents.map { $0.count / 2 + 16 }
        let firstTwo = lengths[0] + lengths[1]
        for (cut, damage) in [(firstTwo + 5, "a truncated record header at byte \(firstTwo)"),
                              (firstTwo + 20, "a truncated record at byte \(firstTwo) (\(lengths[2] - 16) bytes announced, 8 present)")] {
            let read = TFRecord.read(Array(file.prefix(cut)))
            XCTAssertEqual(read.records.count, 2)
            XCTAssertEqual(read.validLength, firstTwo)
            XCTAssertEqual(read.damage, damage)
        }
        var flipped = file
        flipped[firstTwo + 30] ^= 1
        XCTAssertEqual(TFRecord.read(flipped).damage, "a record with a bad data CRC at byte \(firstTwo)")
        XCTAssertEqual(TFRecord.read(flipped).records.count, 2)
        flipped = file
        flipped[lengths[0] + 1] ^= 1
        XCTAssertEqual(TFRecord.read(flipped).damage, "a record length with a bad CRC at byte \(lengths[0])")
        XCTAssertThrowsError(try TensorBoardEvent(decoding: [0x10, 0x80][...])) { XCTAssertTrue("\($0)".contains("runs past the end"), "\($0)") }
    }

    func testAResumedSessionCutsBackEarlierFilesAndASessionKilledMidRecordDoesNotMatter() throws {
        let folder = URL(fileURLWithPath: NSTemporaryDirectory() + "tb-\(UUID().uuidString)")
        let fixedClock = { 1_700_000_000.0 }  // both sessions in the same second: the names must still differ
        var sizeBeforeKill = 0
        do {
            let first = try TensorBoardWriter(folder: folder, continuingAfter: 0, recipe: "seed: 1\n", host: "h", clock: fixedClock)
            for step in 1...9 { try first.addScalars(["loss": Double(step)], step: step, prefix: "train") }
            // A kill in the middle of a record.
            sizeBeforeKill = try Data(contentsOf: URL(fileURLWithPath: first.path)).count
            let handle = try XCTUnwrap(FileHandle(forWritingAtPath: first.path))
            handle.seekToEndOfFile()
            handle.write(Data(TFRecord.frame(TensorBoardEvent(wallTime: 1, step: 10, .sessionStart).encoded).prefix(9)))
            try handle.close()
        }
        var notes: [String] = []
        let second = try TensorBoardWriter(folder: folder, continuingAfter: 6, recipe: "seed: 2\n", host: "h", clock: fixedClock) { notes.append($0) }
        for step in 7...8 { try second.addScalars(["loss": Double(step) + 0.5], step: step, prefix: "train") }
        XCTAssertEqual(notes, ["tensorboard: events.out.tfevents.1700000000.h: dropped 3 event(s) past step 6, "
            + "a truncated record header at byte \(sizeBeforeKill) and what follows it"])
        XCTAssertEqual(try TensorBoardWriter.eventFiles(in: folder).map(\.lastPathComponent),
                       ["events.out.tfevents.1700000000.h", "events.out.tfevents.1700000000.h.1"])
        let events = try TensorBoardWriter.events(in: folder)
        let losses = events.compactMap { e -> (Int64, Float)? in
            guard case .summary(let v) = e.content, case .scalar(let x) = v[0].payload else { return nil }
            return (e.step, x)
        }
        XCTAssertEqual(losses.map(\.0), [1, 2, 3, 4, 5, 6, 7, 8], "each step once")
        XCTAssertEqual(losses.map(\.1), [1, 2, 3, 4, 5, 6, 7.5, 8.5])
        XCTAssertEqual(events.filter { $0.content == .sessionStart }.map(\.step), [1, 7])
        XCTAssertEqual(events.filter { $0.content == .fileVersion("brain.Event:2") }.count, 2)
        // Starting over at step 0 (a run restarted without --resume) leaves no earlier session's
        // file behind: each held nothing but its version record up to step 0.
        _ = try TensorBoardWriter(folder: folder, continuingAfter: 0, recipe: "", host: "h", clock: { 1_700_000_100 })
        XCTAssertEqual(try TensorBoardWriter.eventFiles(in: folder).map(\.lastPathComponent), ["events.out.tfevents.1700000100.h"])
    }

    func testATrainingRunAndItsResumeWriteEveryMetricOnceWithGridsAndRecipe() throws {
        let run = "tb-\(UUID().uuidString)"
        func train(resume: String? = nil) throws -> Trainer {
            let recipe = try Recipe.load(file: TinyHeads.recipe(run: run))
            let trainer = try Trainer(recipe: recipe, task: try TaskCatalog.make(recipe), communicator: SingleProcessCommunicator(),
                                      resume: resume, say: { _ in })
            XCTAssertEqual(try trainer.run(), .finished)
            return trainer
        }
        let first = try train()
        let root = first.runFolder.root
        // Interrupted after the step-6 checkpoint: the resumed session redoes steps 7…12.
        try FileManager.default.removeItem(at: first.runFolder.url(step: 12))
        try "step-00000006".write(to: root.appendingPathComponent("latest"), atomically: true, encoding: .utf8)
        _ = try train(resume: "latest")

        let events = try TensorBoardWriter.events(in: root)
        var scalars: [String: [Int: Float]] = [:], images: [Int] = [], recipes: [Int64] = []
        for e in events {
            guard case .summary(let values) = e.content else { continue }
            for v in values {
                switch v.payload {
                case .scalar(let x):
                    XCTAssertNil(scalars[v.tag]?[Int(e.step)], "\(v.tag) at step \(e.step) written twice")
                    scalars[v.tag, default: [:]][Int(e.step)] = x
                case .image(let image):
                    XCTAssertEqual(v.tag, "eval/grid")
                    XCTAssertEqual(image.png.prefix(4), [0x89, 0x50, 0x4E, 0x47])
                    XCTAssertEqual(image.colorspace, 3)
                    images.append(Int(e.step))
                case .text(let text):
                    XCTAssertEqual(v.tag, "recipe")
                    XCTAssertTrue(text.contains("run_name: \(run)"), text)
                    recipes.append(e.step)
                }
            }
        }
        var expected: [String: [Int: Float]] = [:]
        for kind in ["train", "eval"] {
            for row in MetricsLog.read(path: root.path + "/metrics.jsonl", kind: kind) {
                for (key, value) in row.values { expected["\(kind)/\(key)", default: [:]][row.step] = Float(value) }
            }
        }
        XCTAssertEqual(Set(expected.keys), ["train/loss", "train/lr", "train/grad_norm", "train/samples_per_s", "eval/psnr", "eval/psnr_input_as_prediction"])
        XCTAssertEqual(scalars, expected)
        XCTAssertEqual(scalars["train/loss"].map { $0.keys.sorted() }, [1, 3, 6, 9, 12])
        XCTAssertEqual(images, [6, 12])
        XCTAssertEqual(recipes, [1, 7], "one recipe per session")
        XCTAssertEqual(try TensorBoardWriter.eventFiles(in: root).count, 2)
    }

    func testTheRecipeKeyTurnsItOff() throws {
        let recipe = try Recipe.load(file: TinyHeads.recipe(steps: 3, run: "off-\(UUID().uuidString)"), overrides: ["logging.tensorboard=false"])
        let trainer = try Trainer(recipe: recipe, task: try TaskCatalog.make(recipe), communicator: SingleProcessCommunicator(), say: { _ in })
        XCTAssertEqual(try trainer.run(), .finished)
        XCTAssertEqual(try TensorBoardWriter.eventFiles(in: trainer.runFolder.root), [])
        XCTAssertFalse(MetricsLog.read(path: trainer.runFolder.root.path + "/metrics.jsonl").isEmpty)
    }
}
