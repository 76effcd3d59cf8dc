import Checkpoints
import Datasets
import Diffusion
import Distributed
import Foundation
import Splatting
import Synthesis
import Tensors
import TestSupport
import XCTest
@testable import Training

/// Six subjects of the pipeline rig (the diffusion ring of 8 views at 0° elevation, then 32 at
/// 20°), at 32² and 16², and a tiny VAE trained on them once: what the multi-view diffusion
/// and lifting tests stand on.
enum TinyRing {
    static let folder: String = {
        let root = NSTemporaryDirectory() + "relief-mvdiffusion-tests-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        var synth = SynthesisOptions()
        synth.identities = 6
        synth.variants = 1
        synth.rig = .pipeline
        synth.resolution = 32
        synth.seed = 4
        _ = try! Synthesizer.run(synth, root: URL(fileURLWithPath: root + "/renders"))
        for size in [32, 16] {
            var convert = DatasetConverter.Options(inputs: [root + "/renders"], output: root + "/ring-\(size)", resolution: size)
            convert.valFraction = 0.34
            _ = try! DatasetConverter(convert).run()
        }
        return root
    }()

    /// The frozen VAE every diffusion run here uses (factor 4: 8² latents at 32², 4² at 16²).
    static let vae: String = {
        let run = "vae"
        let path = write(run: run, """
            model: {kind: vae, block_out_channels: [8, 16, 16], norm_num_groups: 4, ssim_weight: 0.2}
            data: {train: \(folder)/ring-32}
            views: {inputs: 2, supervision: 2}
            optimizer: {lr: 0.003, ema_decay: 0}
            schedule: {kind: constant}
            training: {steps: 12, batch_size_per_rank: 2}
            evaluation: {every: 0}
            """)
        train(path)
        return folder + "/runs/" + run
    }()

    static func write(run: String, _ body: String) -> String {
        let path = folder + "/\(run).yaml"
        let text = "run_name: \(run)\nseed: 3\ncheckpoint: {dir: \(folder)/runs, every: 4}\nlogging: {every: 2, images_every: 4}\n" + body
        try! text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @discardableResult
    static func train(_ path: String, overrides: [String] = [], resume: String? = nil) -> Trainer {
        let recipe = try! Recipe.load(file: path, overrides: overrides)
        let trainer = try! Trainer(recipe: recipe, task: try! TaskCatalog.make(recipe), communicator: SingleProcessCommunicator(),
                                   resume: resume, say: { _ in })
        XCTAssertEqual(try trainer.run(), .finished)
        return trainer
    }

    /// A diffusion recipe: `stage` low at `size`², or high at 32² over a 16² low stage.
    static func diffusion(run: String, stage: String = "low", size: Int = 32, extra: String = "", steps: Int = 8) -> String {
        write(run: run, """
            model:
              kind: mvdiffusion
              stage: \(stage)
              vae: \(vae)
              unet: {block_out_channels: [16, 32], norm_num_groups: 8, attention_head_dim: 2}
              condition_encoder: {channels: 16, norm_num_groups: 8, token_dim: 16, global_dim: 16}
              evaluation: {steps: 2, guidance: 2, eta: 1}
            \(extra)
            data: {train: \(folder)/ring-\(size)}
            views: {ring: any}
            optimizer: {lr: 0.001, ema_decay: 0.5}
            schedule: {kind: constant}
            training: {steps: \(steps), batch_size_per_rank: 2}
            evaluation: {every: \(steps), samples: 2}
            """)
    }

    static func rows(_ run: String, kind: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: folder + "/runs/\(run)/metrics.jsonl", encoding: .utf8)
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["kind"] as? String == kind }
    }
}

/// `model.kind: mvdiffusion` trained for a few steps on the tiny ring: the checkpoint holds the
/// model alone with its configurations and where its VAE came from; a resumed run equals an
/// uninterrupted one; both stages chain in evaluation and in `relief-infer generate`, whose
/// output folder `reconstruct` can read; bad input is refused by name.
final class MVDiffusionTaskTests: XCTestCase {
    func testTrainsEvaluatesAndCheckpointsTheModelAlone() throws {
        let run = "low-\(UUID().uuidString)"
        TinyRing.train(TinyRing.diffusion(run: run))
        let losses = try TinyRing.rows(run, kind: "train").map { $0["loss"] as! Double }
        XCTAssertFalse(losses.isEmpty)
        XCTAssertTrue(losses.allSatisfy(\.isFinite), "\(losses)")
        let eval = try XCTUnwrap(try TinyRing.rows(run, kind: "eval").last)
        for key in ["psnr_novel", "ssim_novel", "psnr_input_view", "ssim_input_view", "psnr_view0_az0", "psnr_view5_az315"] {
            let value = try XCTUnwrap(eval[key] as? Double, "\(key) in \(eval)")
            XCTAssertTrue(value.isFinite && value > 0, "\(key) = \(value)")
        }

        let file = try CheckpointDirectory.resolve(path: TinyRing.folder + "/runs/\(run)").safetensors("model.safetensors")
        let keys = try file.tensors().keys
        XCTAssertTrue(keys.allSatisfy { $0.hasPrefix("unet.") || $0.hasPrefix("condition_encoder.") }, "\(keys.sorted().prefix(5))")
        XCTAssertTrue(keys.contains("unet.conv_in.weight") && keys.contains("unet.class_embedding.linear_1.weight"))
        let model = try MultiViewDiffusionModel.load(file)
        XCTAssertEqual(model.unet.configuration.inChannels, 8)
        XCTAssertEqual(model.configuration.viewAzimuthsDegrees, [0, 45, 90, 180, 270, 315])
        XCTAssertEqual(model.configuration.multiView, .dense)
        let vae = try XCTUnwrap(try FrozenModelSources.read(file)["vae"])
        XCTAssertTrue(vae.checkpoint.hasPrefix(TinyRing.vae), vae.checkpoint)
    }

    func testResumedRunEqualsAnUninterruptedOne() throws {
        let full = "full-\(UUID().uuidString)", part = "part-\(UUID().uuidString)"
        TinyRing.train(TinyRing.diffusion(run: full))
        TinyRing.train(TinyRing.diffusion(run: part))
        let folder = CheckpointDirectory(root: URL(fileURLWithPath: TinyRing.folder + "/runs/\(part)"))
        try FileManager.default.removeItem(at: folder.url(step: 8))
        try "step-00000004".write(to: folder.root.appendingPathComponent("latest"), atomically: true, encoding: .utf8)
        TinyRing.train(TinyRing.diffusion(run: part), resume: "latest")
        for name in ["model.safetensors", "ema.safetensors"] {
            let a = try CheckpointDirectory.resolve(path: TinyRing.folder + "/runs/\(full)").safetensors(name).tensors()
            let b = try CheckpointDirectory.resolve(path: TinyRing.folder + "/runs/\(part)").safetensors(name).tensors()
            XCTAssertEqual(a.keys.sorted(), b.keys.sorted())
            for (key, value) in a { XCTAssertEqual(value.scalars, b[key]?.scalars, "\(name) \(key)") }
        }
    }

    func testStagesChainInEvaluationAndGenerate() throws {
        let low = "low16-\(UUID().uuidString)", high = "high-\(UUID().uuidString)"
        TinyRing.train(TinyRing.diffusion(run: low, size: 16, steps: 4))
        let lowRun = TinyRing.folder + "/runs/\(low)"
        TinyRing.train(TinyRing.diffusion(run: high, stage: "high", extra: "  low_resolution_size: 16\n  low_stage: \(lowRun)", steps: 4))
        let eval = try XCTUnwrap(try TinyRing.rows(high, kind: "eval").last)
        XCTAssertNotNil(eval["psnr_novel"] as? Double, "\(eval)")
        let highRun = TinyRing.folder + "/runs/\(high)"
        let highFile = try CheckpointDirectory.resolve(path: highRun).safetensors("model.safetensors")
        XCTAssertEqual(try FrozenModelSources.read(highFile).keys.sorted(), ["low_stage", "vae"])

        let infer = try Programs.requireBuilt("relief-infer")
        let subject = try RenderFolder.subjects(in: [TinyRing.folder + "/renders"])[0]
        func generate(_ out: String, _ extra: [String] = []) throws -> (Int32, String) {
            try Programs.run(infer, ["generate", "--checkpoint", lowRun, "--high", highRun, "--input", subject.folder, "--view", "2",
                                     "--steps", "2", "--out", TinyRing.folder + "/" + out] + extra)
        }
        let (status, output) = try generate("gen-a")
        XCTAssertEqual(status, 0, output)
        let a = TinyRing.folder + "/gen-a"
        let cameras = try CameraFile.read(a + "/opencv_cameras.json")
        XCTAssertEqual(cameras.frames.count, 6)
        // The generated folder is a subject folder: the views at α + {0, 45, …}° of the portrait's camera (view 2 = 90°).
        let sample = try RenderFolder.load(try RenderFolder.subjects(in: [a])[0], size: nil)
        XCTAssertEqual(sample.views, 6)
        XCTAssertEqual(sample.width, 32)
        let centre = Camera(cameras.frames[1]).center
        XCTAssertEqual(atan2(centre.x, -centre.y) * 180 / .pi, 135, accuracy: 1e-6)
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: a + "/metrics.json"))) as! [String: Any]
        let views = metrics["views"] as! [[String: Any]]
        XCTAssertEqual(views.count, 6)
        XCTAssertTrue(views.allSatisfy { ($0["psnr"] as? Double).map { $0.isFinite } ?? false }, "every ring view has ground truth: \(views)")

        // The same seed gives the same views; another seed, others.
        XCTAssertEqual(try generate("gen-b").0, 0)
        XCTAssertEqual(try generate("gen-c", ["--seed", "7"]).0, 0)
        let bytes = { (run: String) in try Data(contentsOf: URL(fileURLWithPath: TinyRing.folder + "/\(run)/images/cam_003.png")) }
        XCTAssertEqual(try bytes("gen-a"), try bytes("gen-b"))
        XCTAssertNotEqual(try bytes("gen-a"), try bytes("gen-c"))

        // The high stage trained on the low stage's real outputs: written for every training subject and ring view.
        let outputs = TinyRing.folder + "/low-\(high).safetensors"
        let (s2, o2) = try Programs.run(infer, ["low-stage-outputs", "--checkpoint", lowRun, "--dataset", TinyRing.folder + "/ring-16",
                                                "--steps", "2", "--out", outputs])
        XCTAssertEqual(s2, 0, o2)
        let written = try LowStageOutputs.read(outputs)
        let train = try ShardedDataset(TinyRing.folder + "/ring-32", split: IdentitySplit.train)
        XCTAssertEqual(written.subjects, (0..<train.count).map(train.subject))
        XCTAssertEqual(written.views.shape, [train.count, 8, 6, 3, 16, 16])
        let generatedRun = "generated-\(UUID().uuidString)"
        TinyRing.train(TinyRing.diffusion(run: generatedRun, stage: "high", extra: """
              low_resolution_size: 16
              low_resolution: generated
              low_resolution_outputs: \(outputs)
            """, steps: 2))
        XCTAssertTrue(try TinyRing.rows(generatedRun, kind: "train").allSatisfy { ($0["loss"] as? Double)?.isFinite ?? false })
        // Outputs of other subjects (the held-out split) are refused, naming the file's split.
        let heldOut = TinyRing.folder + "/low-val-\(high).safetensors"
        XCTAssertEqual(try Programs.run(infer, ["low-stage-outputs", "--checkpoint", lowRun, "--dataset", TinyRing.folder + "/ring-16",
                                                "--split", "val", "--steps", "1", "--out", heldOut]).status, 0)
        let mismatched = try Recipe.load(file: TinyRing.diffusion(run: "mismatch-\(UUID().uuidString)", stage: "high", extra: """
              low_resolution_size: 16
              low_resolution: generated
              low_resolution_outputs: \(heldOut)
            """))
        XCTAssertThrowsError(try TaskCatalog.make(mismatched)) {
            XCTAssertTrue("\($0)".contains("model.low_resolution_outputs holds the outputs of 2 subjects of"), "\($0)")
            XCTAssertTrue("\($0)".contains("(val); data.train's training split has 4 others"), "\($0)")
        }

        // Bad input, each refused by name.
        let portrait = TinyRing.folder + "/portrait"
        func refusal(_ arguments: [String]) throws -> String {
            let (status, output) = try Programs.run(infer, ["generate", "--out", portrait] + arguments)
            XCTAssertNotEqual(status, 0, output)
            return output
        }
        let onImage = { (file: String) in ["--checkpoint", lowRun, "--image", file] }
        let wide = TinyRing.folder + "/wide.png", grey = TinyRing.folder + "/grey.png"
        try [UInt8](repeating: 128, count: 32 * 16 * 3).withUnsafeBufferPointer { try PNG.write(wide, uint8: $0, width: 32, height: 16, channels: 3) }
        try [UInt8](repeating: 128, count: 32 * 32 * 2).withUnsafeBufferPointer { try PNG.write(grey, uint8: $0, width: 32, height: 32, channels: 2) }
        XCTAssertTrue(try refusal(onImage(wide)).contains("wide.png: the portrait is 32×16 without alpha: it cannot be framed"))
        XCTAssertTrue(try refusal(onImage(grey)).contains("grey.png: the head is cut by the image's top edge"))
        XCTAssertTrue(try refusal(["--checkpoint", TinyRing.vae, "--image", wide]).contains("is a 'vae' checkpoint, not a multi-view diffusion model"))
        XCTAssertTrue(try refusal(["--checkpoint", lowRun, "--high", lowRun, "--image", wide]).contains("the second stage is a low-stage model"))
        XCTAssertTrue(try refusal(["--checkpoint", highRun, "--image", wide]).contains("the first stage is a high-stage model"))
        XCTAssertTrue(try refusal(onImage(wide) + ["--guidance=-1"]).contains("--guidance is -1.0; must be ≥ 0"))
        XCTAssertTrue(try refusal(onImage(wide) + ["--steps", "0"]).contains("--steps is 0; sampling needs at least 1 step"))
    }

    func testRecipeMistakesAreNamed() throws {
        func error(_ extra: String, stage: String = "low", overrides: [String] = []) -> String {
            do {
                _ = try TaskCatalog.make(try Recipe.load(file: TinyRing.diffusion(run: "bad-\(UUID().uuidString)", stage: stage, extra: extra),
                                                         overrides: overrides))
            } catch { return "\(error)" }
            return "no error"
        }
        XCTAssertTrue(error("", overrides: ["views.ring=none"]).contains("views.ring must be 'any' or 'front' for model.kind mvdiffusion"))
        XCTAssertTrue(error("", stage: "high").contains("model.low_resolution_size is required"))
        XCTAssertTrue(error("  multiview_attention: full").contains("model.multiview_attention is 'full'; expected one of dense, sparse, none"))
        XCTAssertTrue(error("  drop_embedding: 0.6\n  drop_both: 0.6").contains("model.drop_latent makes the dropout probabilities sum to"))
        XCTAssertTrue(error("", overrides: ["model.vae=/nonexistent"]).contains("model.vae cannot be loaded"))
        XCTAssertTrue(error("", overrides: ["model.unet.block_out_channels=[16, 32, 32, 32, 32]"]).contains("latent side must be a multiple of 16"))
    }
}
