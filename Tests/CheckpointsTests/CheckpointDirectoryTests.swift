import Foundation
import XCTest
@testable import Checkpoints
import Tensors

final class CheckpointDirectoryTests: XCTestCase {
    var folder: URL!
    var run: CheckpointDirectory!
    override func setUpWithError() throws {
        folder = try makeScratchFolder()
        run = CheckpointDirectory(root: folder.appendingPathComponent("checkpoints/demo"))
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    struct TrainerState: Codable, Equatable { var step: Int; var epoch: Int; var seed: UInt64 }

    private func commitSmall(_ step: Int, retention: RetentionPolicy? = nil) throws {
        try run.commit(step: step, retention: retention) { staging in
            try staging.writeSafetensors("model.safetensors", ["w": Tensor(repeating: Float(step), shape: [3])])
            try staging.writeJSON("trainer.json", TrainerState(step: step, epoch: 0, seed: 1))
        }
    }

    private func entries() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: run.root.path).sorted() }

    func testCommitWritesFilesAndPointsLatest() throws {
        XCTAssertNil(try run.latest())
        let written = try run.commit(step: 42) { staging in
            try staging.writeSafetensors("model.safetensors", ["a.weight": Tensor([1, 2, 3, 4], shape: [2, 2])], metadata: ["format": "pt"])
            try staging.writeJSON("trainer.json", TrainerState(step: 42, epoch: 3, seed: 99))
            try staging.writeText("recipe.yaml", "model: gslrm\nlr: 3e-4\n")
        }
        XCTAssertEqual(written.url.lastPathComponent, "step-00000042")
        XCTAssertEqual(try entries(), ["latest", "step-00000042"])
        XCTAssertEqual(try String(contentsOf: run.root.appendingPathComponent("latest"), encoding: .utf8), "step-00000042\n")

        let latest = try XCTUnwrap(try run.latest())
        XCTAssertEqual(latest.step, 42)
        XCTAssertEqual(latest.fileNames, ["model.safetensors", "recipe.yaml", "trainer.json"])
        XCTAssertEqual(try latest.safetensors("model.safetensors").tensor("a.weight").scalars, [1, 2, 3, 4])
        XCTAssertEqual(try latest.json("trainer.json", as: TrainerState.self), TrainerState(step: 42, epoch: 3, seed: 99))
        XCTAssertEqual(try latest.text("recipe.yaml"), "model: gslrm\nlr: 3e-4\n")
        XCTAssertThrowsError(try latest.text("ema.safetensors")) { XCTAssertTrue("\($0)".contains("no file 'ema.safetensors'"), "\($0)") }
    }

    func testResolvesLatestStepsAndPaths() throws {
        try commitSmall(10)
        try commitSmall(20)
        XCTAssertEqual(try run.resolve("latest").step, 20)
        XCTAssertEqual(try run.resolve("10").step, 10)
        XCTAssertEqual(try run.resolve("step-00000010").step, 10)
        XCTAssertThrowsError(try run.resolve("30")) { XCTAssertTrue("\($0)".contains("no such checkpoint") && "\($0)".contains("10, 20"), "\($0)") }
        XCTAssertEqual(try CheckpointDirectory.resolve(path: run.root.path).step, 20)
        XCTAssertEqual(try CheckpointDirectory.resolve(path: run.root.appendingPathComponent("latest").path).step, 20)
        XCTAssertEqual(try CheckpointDirectory.resolve(path: run.url(step: 10).path).step, 10)
        XCTAssertThrowsError(try CheckpointDirectory.resolve(path: folder.appendingPathComponent("nowhere").path))
        XCTAssertThrowsError(try CheckpointDirectory.resolve(path: folder.path)) {
            XCTAssertTrue("\($0)".contains("neither"), "\($0)")
        }
        // A `latest` naming a folder that is gone is an error, not a silent fallback.
        try FileManager.default.removeItem(at: run.url(step: 20))
        XCTAssertThrowsError(try run.latest()) { XCTAssertTrue("\($0)".contains("step-00000020") && "\($0)".contains("does not exist"), "\($0)") }
    }

    func testRetentionKeepsLastEveryAndLatest() throws {
        XCTAssertEqual(RetentionPolicy(keepLast: 2, keepEvery: 3).stepsToDelete([1, 2, 3, 4, 5, 6, 7], latest: 7), [1, 2, 4, 5])
        XCTAssertEqual(RetentionPolicy(keepLast: 0).stepsToDelete([1, 2, 3], latest: 1), [2, 3])
        XCTAssertEqual(RetentionPolicy().stepsToDelete([1, 2, 3], latest: 3), [])

        for step in 1...7 { try commitSmall(step, retention: RetentionPolicy(keepLast: 2, keepEvery: 3)) }
        XCTAssertEqual(try run.steps(), [3, 6, 7])
        // Re-committing an older step (a resumed run) moves `latest` back; retention must keep it
        // even though it is neither recent nor a multiple.
        try commitSmall(5, retention: RetentionPolicy(keepLast: 1))
        XCTAssertEqual(try run.latestStep(), 5)
        XCTAssertEqual(try run.steps(), [5, 7])
    }

    func testRecommittingAStepReplacesIt() throws {
        try commitSmall(4)
        try run.commit(step: 4) { try $0.writeSafetensors("model.safetensors", ["w": Tensor(repeating: -1, shape: [2])]) }
        let c = try run.checkpoint(step: 4)
        XCTAssertEqual(c.fileNames, ["model.safetensors"])
        XCTAssertEqual(try c.safetensors("model.safetensors").tensor("w").scalars, [-1, -1])
        XCTAssertEqual(try entries(), ["latest", "step-00000004"])
    }

    func testStaleTemporariesAreRemovedByTheNextCommit() throws {
        try commitSmall(1)
        let stale = run.root.appendingPathComponent(".tmp-step-00000002-12345")
        try FileManager.default.createDirectory(at: stale, withIntermediateDirectories: true)
        try Data("half".utf8).write(to: stale.appendingPathComponent("model.safetensors"))
        try Data("step-00000002".utf8).write(to: run.root.appendingPathComponent("latest.tmp"))
        XCTAssertEqual(try run.steps(), [1], "temporary folders are not checkpoints")
        try commitSmall(2)
        XCTAssertEqual(try entries(), ["latest", "step-00000001", "step-00000002"])
    }

    // MARK: failures leave the previous checkpoint and `latest` intact

    private func assertPreviousIntact(file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try run.latestStep(), 1, file: file, line: line)
        XCTAssertEqual(try run.latest()?.safetensors("model.safetensors").tensor("w").scalars, [1, 1, 1], file: file, line: line)
        XCTAssertEqual(try entries(), ["latest", "step-00000001"], "no temporary left behind", file: file, line: line)
    }

    struct Interrupted: Error {}

    func testFailureInsideTheWriteLeavesPreviousCheckpoint() throws {
        try commitSmall(1)
        XCTAssertThrowsError(try run.commit(step: 2) { staging in
            try staging.writeSafetensors("model.safetensors", ["w": Tensor(zeros: [3])])
            throw Interrupted()
        }) { XCTAssertTrue($0 is Interrupted) }
        try assertPreviousIntact()
        XCTAssertThrowsError(try run.commit(step: 2) { try $0.writeText("../escape.txt", "x") }) {
            XCTAssertTrue("\($0)".contains("not a plain file name"), "\($0)")
        }
        try assertPreviousIntact()
    }

    /// A real failed write part-way through the model (see `withFileSizeLimit`).
    func testFileTooLargeMidWriteLeavesPreviousCheckpoint() throws {
        try commitSmall(1)
        try withFileSizeLimit(1 << 20) {
            XCTAssertThrowsError(try run.commit(step: 2) { staging in
                try staging.writeJSON("trainer.json", TrainerState(step: 2, epoch: 0, seed: 1))
                try staging.writeSafetensors("model.safetensors", ["decoder.weight": Tensor(zeros: [1 << 19])])
            }) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains("model.safetensors") && text.contains("'decoder.weight'") && text.contains("too large"), text)
            }
        }
        try assertPreviousIntact()
    }

    func testRunFolderThatIsAFileFailsClearly() throws {
        let blocker = folder.appendingPathComponent("blocked")
        try Data("not a folder".utf8).write(to: blocker)
        let bad = CheckpointDirectory(root: blocker.appendingPathComponent("run"))
        XCTAssertThrowsError(try bad.commit(step: 1) { _ in }) { error in
            XCTAssertTrue("\(error)".contains("blocked/run") && "\(error)".contains("cannot create run folder"), "\(error)")
        }
        XCTAssertThrowsError(try CheckpointDirectory(root: URL(fileURLWithPath: "/proc/relief-run")).commit(step: 1) { _ in })
    }

    func testLatestThatCannotBeReplacedKeepsTheOldPointer() throws {
        try commitSmall(1)
        // `latest.tmp` is removed as stale at the start of a commit, so block the final rename
        // instead: a directory named like the pointer cannot be replaced by a file.
        let pointer = run.root.appendingPathComponent("latest")
        try FileManager.default.removeItem(at: pointer)
        try FileManager.default.createDirectory(at: pointer.appendingPathComponent("keep"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try commitSmall(2)) { error in
            XCTAssertTrue("\(error)".contains("latest") && "\(error)".contains("rename"), "\(error)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: pointer.appendingPathComponent("keep").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.root.appendingPathComponent("latest.tmp").path))
        XCTAssertEqual(try run.steps(), [1, 2], "the step folder itself was committed before the pointer")
    }
}
