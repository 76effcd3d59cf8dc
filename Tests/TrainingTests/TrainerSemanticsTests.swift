import Checkpoints
import Datasets
import Distributed
import Foundation
import Layers
import Tensors
import XCTest
@testable import Training

/// What a step averages, which checkpoints count as healthy, and which data errors stop a run.
final class TrainerSemanticsTests: XCTestCase {
    func makeTrainer(_ recipePath: String, overrides: [String] = [], say: @escaping (String) -> Void = { _ in }) throws -> Trainer {
        let recipe = try Recipe.load(file: recipePath, overrides: overrides)
        return try Trainer(recipe: recipe, task: try TaskCatalog.make(recipe), communicator: SingleProcessCommunicator(), say: say)
    }

    /// 8 training samples, 3 per step: the third step of the epoch has 2. One batch of 3 and
    /// three micro-batches of 1 (the first of them empty on that step) must take the same
    /// steps: the gradient is the mean over the step's samples, not over micro-batch slots.
    /// Plain SGD makes the update proportional to the gradient.
    func testShortAndEmptyMicroBatchesWeighWhatTheirSamplesWeigh() throws {
        let sgd = ["optimizer.kind=sgd", "optimizer.momentum=0", "optimizer.weight_decay=0", "optimizer.clip_grad_norm=0",
                   "optimizer.ema_decay=0", "optimizer.lr=0.5", "schedule.kind=constant", "schedule.warmup_steps=0"]
        func updateAfterOneEpoch(batch: Int, accumulation: Int) throws -> [Float] {
            let trainer = try makeTrainer(TinyHeads.recipe(steps: 3), overrides: sgd + [
                "training.batch_size_per_rank=\(batch)", "training.accumulation=\(accumulation)"])
            let start = trainer.store.values.scalars
            XCTAssertEqual(try trainer.run(), .finished)
            return zip(trainer.store.values.scalars, start).map { $0 - $1 }
        }
        let whole = try updateAfterOneEpoch(batch: 3, accumulation: 1)
        let split = try updateAfterOneEpoch(batch: 1, accumulation: 3)
        let norm = sqrt(whole.reduce(0) { $0 + Double($1) * Double($1) })
        let difference = sqrt(zip(whole, split).reduce(0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) })
        XCTAssertGreaterThan(norm, 1e-3, "the run moved the weights")
        // Per-slot averaging makes the last step 2/3 as large when split: a difference of ~10%.
        XCTAssertLessThan(difference / norm, 1e-4, "update \(norm), difference \(difference)")
    }

    /// The recipe's lr 0.003 for 6 steps, then ~1e9: AdamW moves every weight by ~lr in step 7,
    /// while step 7's loss (measured before its update) still looks fine. That checkpoint must
    /// not become `latest`; the run stops naming the last healthy one.
    func testExplodedWeightsAreNeverCheckpointedAndTheMessageNamesTheLastHealthyOne() throws {
        let run = "explode-\(UUID().uuidString)"
        let trainer = try makeTrainer(TinyHeads.recipe(steps: 12, run: run), overrides: [
            "schedule.kind=piecewise", "schedule.warmup_steps=0", "schedule.boundaries=[6]", "schedule.factors=[1, 3e11]",
            "checkpoint.every=1", "checkpoint.keep_last=10"])
        XCTAssertThrowsError(try trainer.run()) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("step 7: the weights exploded: max |w| is "), text)
            XCTAssertTrue(text.contains("checkpoint.max_weight_growth (100)"), text)
            XCTAssertTrue(text.hasSuffix("The last healthy checkpoint is step 6 (\(trainer.runFolder.url(step: 6).path)), which 'latest' names."), text)
        }
        XCTAssertEqual(try trainer.runFolder.latest()?.step, 6)
        XCTAssertEqual(try trainer.runFolder.steps().last, 6)
        let saved = try trainer.runFolder.checkpoint(step: 6).safetensors("model.safetensors").tensors()
        XCTAssertLessThan(saved.values.map { $0.scalars.map(abs).max() ?? 0 }.max() ?? .infinity, 100)

        // Exploding from the first step: no checkpoint, and the message says so.
        let early = try makeTrainer(TinyHeads.recipe(steps: 4), overrides: ["optimizer.lr=1e9", "schedule.kind=constant", "schedule.warmup_steps=0", "checkpoint.every=1"])
        XCTAssertThrowsError(try early.run()) {
            XCTAssertTrue("\($0)".hasSuffix("No checkpoint has been written: there is nothing to resume from."), "\($0)")
        }
        XCTAssertNil(try early.runFolder.latest())
    }

    func testLossRuleRefusesALossFarAboveItsRecentBest() {
        var health = CheckpointHealth(maxWeightGrowth: 100, maxLossGrowth: 10, startingMagnitude: 0.5)
        for _ in 0..<20 { health.record(loss: 0.1) }
        XCTAssertEqual(health.judge(magnitude: 3), .healthy)
        XCTAssertEqual(health.judge(magnitude: 99), .healthy, "max |w| is measured against max(1, reference)")
        if case .healthy = health.judge(magnitude: 101) { XCTFail("101 > 100 × max(1, 0.5)") }
        if case .healthy = health.judge(magnitude: .nan) { XCTFail("non-finite weights") }
        for _ in 0..<CheckpointHealth.lossWindow { health.record(loss: 2) }
        guard case .exploded(let why) = health.judge(magnitude: 3) else { return XCTFail("loss 20× its best") }
        XCTAssertTrue(why.contains("checkpoint.max_loss_growth (10)"), why)
        for _ in 0..<CheckpointHealth.lossWindow { health.record(loss: .nan) }
        XCTAssertEqual(health.recentMean, 2, "non-finite losses are not recorded")
    }

    /// Steps 4–6 have a NaN loss: the logging window of steps 4–6 has no finite value, and the
    /// step-6 checkpoint falls in the streak. It is written at step 7, the first good step, and
    /// its trainer.json (whose last metrics are that window's) encodes.
    func testANonFiniteLoggingWindowDefersTheCheckpointAndStillEncodes() throws {
        final class NaNSteps: TrainingTask {
            let inner: ProbeTask
            var calls = 0
            init(_ r: Recipe) throws { inner = try ProbeTask(recipe: r) }
            var model: any Module { inner.model }
            var viewSelection: ViewSelection { inner.viewSelection }
            func loss(on batch: Batch, rng: inout Philox) -> (loss: Tensor, metrics: [String: Double]) {
                calls += 1
                let (l, m) = inner.loss(on: batch, rng: &rng)
                return ((4...6).contains(calls) ? l * Float.nan : l, m)
            }
            func evaluate(on batches: [Batch], gridPath: String?) throws -> [String: Double] { try inner.evaluate(on: batches, gridPath: gridPath) }
        }
        TaskCatalog.register("nan-window-probe") { try NaNSteps($0) }
        var messages: [String] = []
        let trainer = try makeTrainer(TinyHeads.recipe(steps: 9, run: "nanwindow-\(UUID().uuidString)"),
                                      overrides: ["model.kind=nan-window-probe", "checkpoint.every=6"], say: { messages.append($0) })
        XCTAssertEqual(try trainer.run(), .finished)
        XCTAssertEqual(try trainer.runFolder.steps(), [7, 9])
        let saved = try trainer.runFolder.checkpoint(step: 7).json("trainer.json", as: TrainerState.self)
        XCTAssertEqual(saved.step, 7)
        XCTAssertNil(saved.lastMetrics["loss"], "the window's loss is NaN: omitted")
        XCTAssertNotNil(saved.lastMetrics["lr"])
        XCTAssertTrue(messages.contains { $0.hasPrefix("checkpoint at step 6 deferred to the first good step: the last 3 step(s) were skipped") },
                      messages.joined(separator: "\n"))
    }

    func testAMissingOrUnreadableValidationShardStopsTheRunNamingIt() throws {
        let copy = NSTemporaryDirectory() + "relief-valshard-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: TinyHeads.folder + "/dataset", toPath: copy)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let shard = try XCTUnwrap(try Manifest.read(dataset: copy).shards(of: IdentitySplit.validation).first).file
        let recipe = TinyHeads.recipe(run: "valshard-\(UUID().uuidString)")
        try Data("not an HDF5 file".utf8).write(to: URL(fileURLWithPath: copy + "/" + shard))
        XCTAssertThrowsError(try makeTrainer(recipe, overrides: ["data.train=\(copy)"])) {
            XCTAssertTrue("\($0)".contains(copy + "/" + shard), "\($0)")
        }
        try FileManager.default.removeItem(atPath: copy + "/" + shard)
        XCTAssertThrowsError(try makeTrainer(recipe, overrides: ["data.train=\(copy)"])) {
            XCTAssertTrue("\($0)".contains(copy + "/" + shard), "\($0)")
        }
    }
}
