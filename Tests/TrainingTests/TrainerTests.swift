import Checkpoints
import Datasets
import Distributed
import Foundation
import Synthesis
import Tensors
import TestSupport
import XCTest
@testable import Training

/// A tiny real dataset (synthetic heads → shards) shared by the trainer tests.
enum TinyHeads {
    static let folder: String = {
        let root = NSTemporaryDirectory() + "relief-trainer-tests-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        var synth = SynthesisOptions()
        synth.identities = 10
        synth.variants = 1
        synth.rig = .diffusion
        synth.resolution = 64
        synth.seed = 11
        _ = try! Synthesizer.run(synth, root: URL(fileURLWithPath: root + "/renders"))
        var convert = DatasetConverter.Options(inputs: [root + "/renders"], output: root + "/dataset", resolution: 32)
        convert.valFraction = 0.2
        _ = try! DatasetConverter(convert).run()
        return root
    }()

    static func recipe(_ extra: String = "", steps: Int = 12, run: String = UUID().uuidString) -> String {
        let path = folder + "/\(run).yaml"
        let text = """
        run_name: \(run)
        seed: 5
        model: {kind: probe, channels: 6}
        data: {train: \(folder)/dataset}
        views: {inputs: 1, supervision: 2}
        optimizer: {lr: 0.003, ema_decay: 0.9}
        schedule: {kind: cosine, warmup_steps: 2}
        training: {steps: \(steps), batch_size_per_rank: 2}
        evaluation: {every: 6, samples: 2}
        checkpoint: {dir: \(folder)/runs, every: 6}
        logging: {every: 3, images_every: 6}
        \(extra)
        """
        try! text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func checkpointFile(_ run: String, step: Int, _ file: String = "model.safetensors") -> String {
        folder + "/runs/\(run)/" + CheckpointDirectory.folderName(step: step) + "/" + file
    }
}

final class TrainerTests: XCTestCase {
    func train(_ recipePath: String, overrides: [String] = [], resume: String? = nil) throws -> Trainer {
        let recipe = try Recipe.load(file: recipePath, overrides: overrides)
        let trainer = try Trainer(recipe: recipe, task: try TaskCatalog.make(recipe), communicator: SingleProcessCommunicator(),
                                  resume: resume, say: { _ in })
        XCTAssertEqual(try trainer.run(), .finished)
        return trainer
    }

    func testResumedRunIsBitIdenticalToAnUninterruptedOne() throws {
        let full = "full-\(UUID().uuidString)", part = "part-\(UUID().uuidString)"
        _ = try train(TinyHeads.recipe(run: full))
        // The same recipe stopped after the step-6 checkpoint, then resumed: the interrupted run
        // is the same run with its last checkpoint removed.
        _ = try train(TinyHeads.recipe(run: part))
        let partFolder = CheckpointDirectory(root: URL(fileURLWithPath: TinyHeads.folder + "/runs/\(part)"))
        try FileManager.default.removeItem(at: partFolder.url(step: 12))
        try "step-00000006".write(to: partFolder.root.appendingPathComponent("latest"), atomically: true, encoding: .utf8)
        let resumed = try train(TinyHeads.recipe(run: part), resume: "latest")
        XCTAssertEqual(resumed.state.step, 12)
        for file in ["model.safetensors", "ema.safetensors", "optimizer.safetensors"] {
            let a = try Data(contentsOf: URL(fileURLWithPath: TinyHeads.checkpointFile(full, step: 12, file)))
            let b = try Data(contentsOf: URL(fileURLWithPath: TinyHeads.checkpointFile(part, step: 12, file)))
            XCTAssertEqual(a, b, "\(file) differs after resume")
        }
        // And training changed the weights at all.
        let start = try Data(contentsOf: URL(fileURLWithPath: TinyHeads.checkpointFile(full, step: 6)))
        XCTAssertNotEqual(start, try Data(contentsOf: URL(fileURLWithPath: TinyHeads.checkpointFile(full, step: 12))))
    }

    func testRunWritesLogsCurvesEvaluationAndRetention() throws {
        let run = "logs-\(UUID().uuidString)"
        let trainer = try train(TinyHeads.recipe("", steps: 18, run: run), overrides: ["checkpoint.keep_last=2"])
        let root = trainer.runFolder.root.path
        let rows = MetricsLog.read(path: root + "/metrics.jsonl")
        XCTAssertEqual(rows.map(\.step), [1, 3, 6, 9, 12, 15, 18])
        XCTAssertTrue(rows.allSatisfy { ($0.values["loss"] ?? .nan).isFinite && $0.values["lr"] != nil })
        XCTAssertEqual(MetricsLog.read(path: root + "/metrics.jsonl", kind: "eval").map(\.step), [6, 12, 18])
        for file in ["loss.png", "eval-psnr.png", "eval/step-00000018.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/" + file), file)
        }
        XCTAssertEqual(try trainer.runFolder.steps(), [12, 18], "keep_last 2")
        let saved = try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: URL(fileURLWithPath: root + "/step-00000018/trainer.json")))
        XCTAssertEqual(saved.step, 18)
        XCTAssertEqual(saved.samplesSeen, 36)
        let recipe = try Recipe(tree: try RecipeTree.parse(String(contentsOfFile: root + "/step-00000018/recipe.yaml", encoding: .utf8), file: "saved"),
                                defaultRunName: "x")
        XCTAssertEqual(recipe.training.steps, 18)
    }

    func testInitFromLoadsWeightsAndReportsKeys() throws {
        let source = "source-\(UUID().uuidString)"
        _ = try train(TinyHeads.recipe(run: source))
        var messages: [String] = []
        let recipe = try Recipe.load(file: TinyHeads.recipe("init_from: \(TinyHeads.folder)/runs/\(source)/latest", run: "init-\(UUID().uuidString)"))
        let trainer = try Trainer(recipe: recipe, task: try TaskCatalog.make(recipe), communicator: SingleProcessCommunicator(),
                                  say: { messages.append($0) })
        let loaded = try SafetensorsFile(path: TinyHeads.checkpointFile(source, step: 12, "ema.safetensors"))
        XCTAssertEqual(trainer.store["conv_in.weight"]?.scalars, try loaded.tensor("conv_in.weight").scalars)
        XCTAssertTrue(messages.contains { $0.contains("6 tensors loaded; missing (kept at initialisation): none; unexpected (ignored): none") },
                      messages.joined(separator: "\n"))
        // A differently sized model cannot take those weights: the error names the tensors.
        let wider = try Recipe.load(file: TinyHeads.recipe("init_from: \(TinyHeads.folder)/runs/\(source)/latest", run: "w-\(UUID().uuidString)"),
                                    overrides: ["model.channels=7"])
        XCTAssertThrowsError(try Trainer(recipe: wider, task: try TaskCatalog.make(wider), communicator: SingleProcessCommunicator(), say: { _ in })) {
            XCTAssertTrue("\($0)".contains("conv_in.weight: expected [7, 3, 3, 3], got [6, 3, 3, 3]"), "\($0)")
        }
    }

    func testRepeatedNonFiniteLossStopsNamingTheStepAndKeepsTheCheckpoint() throws {
        final class Exploding: TrainingTask {
            let inner: ProbeTask
            init(_ r: Recipe) throws { inner = try ProbeTask(recipe: r) }
            var model: any Module { inner.model }
            var viewSelection: ViewSelection { inner.viewSelection }
            var calls = 0
            func loss(on batch: Batch, rng: inout Philox) -> (loss: Tensor, metrics: [String: Double]) {
                calls += 1
                let (l, m) = inner.loss(on: batch, rng: &rng)
                return (calls > 7 ? l * Float.nan : l, m)
            }
            func evaluate(on batches: [Batch], gridPath: String?) throws -> [String: Double] { try inner.evaluate(on: batches, gridPath: gridPath) }
        }
        TaskCatalog.register("exploding-probe") { try Exploding($0) }
        let run = "nan-\(UUID().uuidString)"
        let recipe = try Recipe.load(file: TinyHeads.recipe(run: run), overrides: ["model.kind=exploding-probe", "training.max_nonfinite_steps=3"])
        let trainer = try Trainer(recipe: recipe, task: try TaskCatalog.make(recipe), communicator: SingleProcessCommunicator(), say: { _ in })
        XCTAssertThrowsError(try trainer.run()) { error in
            XCTAssertEqual("\(error)", "step 10: stopping after 3 consecutive non-finite steps (training.max_nonfinite_steps): "
                + "the loss is non-finite on training samples \(self.samplesText(trainer)) while every parameter is finite. "
                + "The last healthy checkpoint is step 6 (\(trainer.runFolder.url(step: 6).path)), which 'latest' names.")
        }
        XCTAssertEqual(try trainer.runFolder.latest()?.step, 6)
    }

    func testSamplesSeenCountsSamplesDrawnAndAnOversizedBatchIsNamed() throws {
        // 8 training samples, 3 per step: steps of 3, 3, 2 per epoch.
        let trainer = try train(TinyHeads.recipe(steps: 3), overrides: ["training.batch_size_per_rank=3", "schedule.warmup_steps=0"])
        XCTAssertEqual(trainer.state.samplesSeen, 8)
        var said: [String] = []
        let big = try Recipe.load(file: TinyHeads.recipe(steps: 2), overrides: ["training.batch_size_per_rank=5", "training.accumulation=2",
                                                                                 "schedule.warmup_steps=0"])
        let oversized = try Trainer(recipe: big, task: try TaskCatalog.make(big), communicator: SingleProcessCommunicator(), say: { said.append($0) })
        XCTAssertTrue(said.contains("warning: the global batch (10 samples per step) exceeds the training set (8 samples): each step draws "
            + "all 8 once, so the batch is effectively 8, 4 per micro-batch instead of 5; lower training.batch_size_per_rank or "
            + "training.accumulation, or use fewer ranks"), said.joined(separator: "\n"))
        XCTAssertEqual(try oversized.run(), .finished)
        XCTAssertEqual(oversized.state.samplesSeen, 16)
    }

    func testResumeWithAChangedRecipeNamesTheChangedKeys() throws {
        let run = "changed-\(UUID().uuidString)"
        _ = try train(TinyHeads.recipe(steps: 6, run: run))
        let recipe = try Recipe.load(file: TinyHeads.recipe(steps: 6, run: run), overrides: ["optimizer.lr=0.002", "training.steps=8"])
        var said: [String] = []
        _ = try Trainer(recipe: recipe, task: try TaskCatalog.make(recipe), communicator: SingleProcessCommunicator(), resume: "latest",
                        say: { said.append($0) })
        let checkpoint = TinyHeads.folder + "/runs/\(run)/step-00000006"
        XCTAssertTrue(said.contains("note: the recipe differs from the one saved with \(checkpoint) (optimizer.lr: 0.003 → 0.002; "
            + "training.steps: 6 → 8); continuing with the new one"), said.joined(separator: "\n"))
    }

    /// A dataset damaged after conversion (uncompressed, so nothing else notices): the run stops
    /// at the first damaged view it reads, naming shard, sample and view.
    func testDamagedPixelsStopTheRunNamingShardSampleAndView() throws {
        let folder = TinyHeads.folder + "/damaged-\(UUID().uuidString)"
        var convert = DatasetConverter.Options(inputs: [TinyHeads.folder + "/renders"], output: folder, resolution: 32)
        convert.valFraction = 0.2
        convert.compression = 0
        _ = try DatasetConverter(convert).run()
        // The stored bytes come from the render folder (not read back through HDF5, whose open file
        // and chunk cache this process would share with the trainer's reader).
        let shard = try Manifest.read(dataset: folder).shards[0], path = folder + "/" + shard.file
        let subject = try XCTUnwrap(RenderFolder.subjects(in: [TinyHeads.folder + "/renders"]).first { $0.id == shard.subjects[0] })
        let sample = try RenderFolder.load(subject, size: (32, 32))
        let viewBytes = 32 * 32 * 4
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        for view in 0..<sample.views {  // every view of sample 0, so whichever views are drawn, one is damaged
            let range = try XCTUnwrap(bytes.range(of: Data(sample.rgba[view * viewBytes ..< (view + 1) * viewBytes])),
                                      "view \(view) is stored as one uncompressed chunk")
            bytes[range.lowerBound + viewBytes / 2] ^= 0x10
        }
        try bytes.write(to: URL(fileURLWithPath: path))
        let recipe = try Recipe.load(file: TinyHeads.recipe(steps: 8), overrides: ["data.train=\(folder)"])
        let trainer = try Trainer(recipe: recipe, task: try TaskCatalog.make(recipe), communicator: SingleProcessCommunicator(), say: { _ in })
        XCTAssertThrowsError(try trainer.run()) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(path): sample 0 (subject '\(shard.subjects[0])') view "), "\(error)")
            XCTAssertTrue("\(error)".contains("image checksum"), "\(error)")
        }
        XCTAssertLessThan(trainer.state.step, 4, "sample 0 is drawn in the first epoch (4 steps)")
    }

    func samplesText(_ trainer: Trainer) -> String {
        // Step 10's samples: the sampler's epoch order at that step (8 train samples, 2 per step).
        let perm = DistributedSampler.permutation(count: 8, epoch: 2, shuffle: true, seed: 5)
        return perm[2..<4].sorted().map(String.init).joined(separator: ", ")
    }
}

import Layers

/// The program as users run it: ranks, signals, kills.
final class TrainProgramTests: XCTestCase {
    var program: URL!

    override func setUpWithError() throws {
        program = try Programs.requireBuilt("relief-train")
        _ = TinyHeads.folder
    }

    func testTwoRanksGiveTheSameWeightsAsOneRankAccumulatingTwoMicroBatches() throws {
        let mpirun = try Programs.requireOnPath("mpirun")
        let ranks = "ranks-\(UUID().uuidString)", accumulated = "acc-\(UUID().uuidString)"
        let (s1, o1) = try Programs.run(mpirun, ["--allow-run-as-root", "--oversubscribe", "-np", "2", program.path,
                                                 TinyHeads.recipe(run: ranks), "--set", "training.batch_size_per_rank=1"])
        XCTAssertEqual(s1, 0, o1)
        XCTAssertTrue(o1.contains("2 rank(s) (MPI) × 1 micro-batch(es) × 1 = 2 samples per step"), o1)
        let (s2, o2) = try Programs.run(program, [TinyHeads.recipe(run: accumulated), "--set", "training.batch_size_per_rank=1",
                                                  "--set", "training.accumulation=2"])
        XCTAssertEqual(s2, 0, o2)
        for file in ["model.safetensors", "ema.safetensors", "optimizer.safetensors"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: TinyHeads.checkpointFile(ranks, step: 12, file))),
                           try Data(contentsOf: URL(fileURLWithPath: TinyHeads.checkpointFile(accumulated, step: 12, file))), file)
        }
    }

    func testResumingOnAnotherNumberOfRanksReshardsAndSaysSo() throws {
        let mpirun = try Programs.requireOnPath("mpirun")
        let run = "reshard-\(UUID().uuidString)"
        let (s1, o1) = try Programs.run(mpirun, ["--allow-run-as-root", "--oversubscribe", "-np", "2", program.path,
                                                 TinyHeads.recipe(run: run), "--set", "training.steps=6"])
        XCTAssertEqual(s1, 0, o1)
        let (s2, o2) = try Programs.run(program, [TinyHeads.recipe(run: run), "--resume", "latest"])
        XCTAssertEqual(s2, 0, o2)
        XCTAssertTrue(o2.contains("resuming on 1 rank(s) × 1 micro-batch(es) (checkpoint: 2 × 1): data re-sharded"), o2)
        XCTAssertTrue(o2.contains("step 12/12"), o2)
    }

    func testARankThatDiesBringsTheJobDownNamingItAndKeepsTheCheckpoint() throws {
        let mpirun = try Programs.requireOnPath("mpirun"), pgrep = try Programs.requireOnPath("pgrep")
        let run = "die-\(UUID().uuidString)"
        let recipe = TinyHeads.recipe(run: run)
        let (job, pipe) = try Programs.start(mpirun, ["--allow-run-as-root", "--oversubscribe", "-np", "2", program.path, recipe,
                                                      "--set", "training.steps=100000", "--set", "checkpoint.every=5"])
        let folder = CheckpointDirectory(root: URL(fileURLWithPath: TinyHeads.folder + "/runs/\(run)"))
        let deadline = Date().addingTimeInterval(60)
        while (try? folder.latest()) == nil, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        // Kill the second rank (the newest relief-train process running this recipe).
        let (_, pids) = try Programs.run(pgrep, ["-n", "-f", "relief-train \(recipe)"])
        kill(pid_t(pids.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, SIGKILL)
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        job.waitUntilExit()
        XCTAssertNotEqual(job.terminationStatus, 0, output)
        XCTAssertTrue(output.range(of: #"rank [0-9]"#, options: .regularExpression) != nil, output)
        let latest = try XCTUnwrap(try folder.latest())
        XCTAssertNoThrow(try latest.safetensors("model.safetensors").tensors())
    }

    func testSIGTERMFinishesTheStepCheckpointsAndExitsZero() throws {
        let run = "term-\(UUID().uuidString)"
        let (process, pipe) = try Programs.start(program, [TinyHeads.recipe(run: run), "--set", "training.steps=100000",
                                                           "--set", "logging.every=1"])
        // Wait for training to be under way (the second progress line), then ask it to stop.
        var seen = Data()
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning, Date() < deadline,
              String(decoding: seen, as: UTF8.self).range(of: #"step +2/"#, options: .regularExpression) == nil {
            seen += pipe.fileHandleForReading.availableData
        }
        process.terminate()
        seen += pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let output = String(decoding: seen, as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 0, output)
        XCTAssertTrue(output.contains("stopped by signal 15; resume with --resume latest"), output)
        let latest = try XCTUnwrap(try CheckpointDirectory(root: URL(fileURLWithPath: TinyHeads.folder + "/runs/\(run)")).latest())
        XCTAssertGreaterThanOrEqual(latest.step ?? 0, 2)
        let (status, resumed) = try Programs.run(program, [TinyHeads.recipe(run: run), "--set", "training.steps=\((latest.step ?? 0) + 2)",
                                                           "--resume", "latest"])
        XCTAssertEqual(status, 0, resumed)
        XCTAssertTrue(resumed.contains("at step \(latest.step ?? 0)"), resumed)
    }

    func testKillingDuringCheckpointWritesNeverCorruptsLatest() throws {
        let run = "kill-\(UUID().uuidString)"
        let root = CheckpointDirectory(root: URL(fileURLWithPath: TinyHeads.folder + "/runs/\(run)"))
        // What a commit in progress leaves: its staging folder (`.tmp-step-…-<pid>`) or `latest.tmp`.
        func inProgress() -> Set<String> {
            Set(((try? FileManager.default.contentsOfDirectory(atPath: root.root.path)) ?? [])
                .filter { $0.hasPrefix(".tmp-step-") || $0 == "latest.tmp" })
        }
        // A checkpoint every step; each run is killed as soon as a new commit has begun. The kill
        // landed inside the write when that commit's temporary is still there after the process
        // died (a finished commit renames or replaces it).
        var killsInsideWrites = 0, attempts = 0
        while killsInsideWrites < 4, attempts < 16 {
            attempts += 1
            let args = [TinyHeads.recipe(run: run), "--set", "training.steps=100000", "--set", "checkpoint.every=1",
                        "--set", "checkpoint.keep_last=2"] + ((try root.latest()) == nil ? [] : ["--resume", "latest"])
            let leftOver = inProgress()
            let (process, _) = try Programs.start(program, args)
            let deadline = Date().addingTimeInterval(60)
            var begun = Set<String>()
            // Not the run's first commit: a kill there would leave nothing to check `latest` against.
            // `latest` is checked while the run goes on too: it must never name a missing folder.
            while process.isRunning, Date() < deadline, begun.isEmpty {
                begun = try root.latest() == nil ? [] : inProgress().subtracting(leftOver)
                if begun.isEmpty { usleep(100) }
            }
            // At the start of the write or a little into it (files written, renames under way).
            usleep([0, 1000, 3000, 6000][attempts % 4])
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if !begun.isEmpty, !begun.isDisjoint(with: inProgress()) { killsInsideWrites += 1 }
            guard let latest = try root.latest() else { continue }
            for file in ["model.safetensors", "ema.safetensors", "optimizer.safetensors"] {
                XCTAssertNoThrow(try latest.safetensors(file).tensors(), "\(file) of \(latest.url.path)")
            }
            XCTAssertNoThrow(try latest.json("trainer.json", as: TrainerState.self))
        }
        XCTAssertGreaterThanOrEqual(killsInsideWrites, 4, "kills that landed inside a checkpoint write, of \(attempts)")
        XCTAssertNotNil(try root.latest(), "some checkpoint was committed")
        print("kills inside checkpoint writes: \(killsInsideWrites) of \(attempts)")
    }

    func testRecipeErrorsStopBeforeTrainingNamingTheKey() throws {
        let (status, output) = try Programs.run(program, [TinyHeads.recipe(run: "bad"), "--set", "optimizer.betaa=0.5"])
        XCTAssertEqual(status, 1)
        XCTAssertTrue(output.contains("--set optimizer.betaa=0.5: optimizer.betaa is not a known key (did you mean 'beta1'?)"), output)
        let (s2, o2) = try Programs.run(program, [TinyHeads.recipe(run: "bad2"), "--set", "model.kind=gslrn"])
        XCTAssertEqual(s2, 1)
        XCTAssertTrue(o2.contains("model.kind is 'gslrn'; known kinds:"), o2)
        let (s3, o3) = try Programs.run(program, [TinyHeads.recipe(run: "bad3"), "--set", "model.width=3"])
        XCTAssertEqual(s3, 1)
        XCTAssertTrue(o3.contains("model.width is not a known key"), o3)
    }
}
