import Checkpoints
import Datasets
import Distributed
import Foundation
import Splatting
import Synthesis
import TestSupport
import XCTest
@testable import Training

/// The GS-LRM task trained for a few steps on the tiny head set, then its checkpoint reconstructed
/// by `relief-infer reconstruct` from the checkpoint alone.
final class ReconstructionTaskTests: XCTestCase {
    static let model = "{kind: gslrm, width: 16, layers: 1, heads: 2, patch_size: 8, ssim_weight: 0.1}"

    func recipe(run: String, model: String = ReconstructionTaskTests.model) -> String {
        TinyHeads.recipe(steps: 6, run: run).withLines(["model": model, "views": "{inputs: 2, supervision: 4}"])
    }

    func testTrainsAndReconstructsFromTheCheckpointAlone() throws {
        let run = "gslrm-\(UUID().uuidString)"
        // A fixed-decay EMA (no warm-up) stays near its initialisation: relief-infer must notice.
        let recipe = try Recipe.load(file: recipe(run: run), overrides: ["optimizer.ema_warmup=none"])
        var said: [String] = []
        let trainer = try Trainer(recipe: recipe, task: try TaskCatalog.make(recipe), communicator: SingleProcessCommunicator(),
                                  say: { said.append($0) })
        XCTAssertEqual(try trainer.run(), .finished)
        XCTAssertTrue(said.contains("relief-train: loss: MSE + 0.1·(1 − SSIM) + no perceptual term (perceptual_weight 0)"), "\(said)")
        let eval = said.last { $0.hasPrefix("eval at step 6") } ?? ""
        for key in ["psnr ", "ssim ", "psnr_mean_input_baseline "] { XCTAssertTrue(eval.contains(key), eval) }

        let checkpoint = try CheckpointDirectory.resolve(path: TinyHeads.folder + "/runs/\(run)")
        let weights = try checkpoint.safetensors("ema.safetensors")
        XCTAssertTrue(weights.metadata["gslrm_config"]?.contains("\"width\":16") ?? false, "\(weights.metadata)")
        XCTAssertTrue(weights.names.contains("transformer_layers.0.attn1.to_q.weight"))

        let infer = try Programs.requireBuilt("relief-infer")
        let subject = try RenderFolder.subjects(in: [TinyHeads.folder + "/renders"])[0]
        let out = TinyHeads.folder + "/reconstruct-\(run)"
        let (status, output) = try Programs.run(infer, ["reconstruct", "--checkpoint", checkpoint.url.path, "--input", subject.folder,
                                                        "--out", out, "--views", "0,3", "--min-opacity", "0"])
        XCTAssertEqual(status, 0, output)
        let scene = try GaussianPLY.read(URL(fileURLWithPath: out + "/gaussians.ply"))
        XCTAssertEqual(scene.count, 2 * 32 * 32, "one Gaussian per input pixel at the trained 32×32")
        let fm = FileManager.default
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: out + "/renders").sorted(), (0..<6).map { String(format: "cam_%03d.png", $0) })
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: out + "/turntable").count, 36)
        XCTAssertEqual(try PNG.info(out + "/renders/cam_001.png").width, 32)
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/metrics.json"))) as! [String: Any]
        let views = (metrics["novel_views"] as! [[String: Any]]).map { $0["view"] as! Int }
        XCTAssertEqual(views, [1, 2, 4, 5])
        XCTAssertEqual(metrics["input_views"] as? [Int], [0, 3])
        // Six steps leave the model well below the mean-input baseline (≈10 dB beside ≈17 dB), so
        // "better than 5 dB" says nothing. What must hold: relief-infer, from the checkpoint alone,
        // reproduces the quality the trainer measured for the same EMA weights (its held-out
        // subjects vs this one: within 2 dB here), and both stay distinct from the baseline.
        func value(_ key: String) throws -> Double {
            let match = try XCTUnwrap(eval.range(of: key + #" [-0-9.e]+"#, options: .regularExpression), "\(key) in \(eval)")
            return try XCTUnwrap(Double(eval[match].dropFirst(key.count + 1)), eval)
        }
        let trained = try value("psnr"), baseline = try value("psnr_mean_input_baseline")
        // The trainer evaluated the EMA weights; auto (below) takes the raw ones, so ask for the EMA.
        let (emaStatus, emaOutput) = try Programs.run(infer, ["reconstruct", "--checkpoint", checkpoint.url.path, "--input", subject.folder,
                                                              "--out", out + "-ema", "--views", "0,3", "--weights", "ema"])
        XCTAssertEqual(emaStatus, 0, emaOutput)
        let emaMetrics = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "-ema/metrics.json"))) as! [String: Any]
        let inferred = emaMetrics["mean_psnr"] as! Double
        XCTAssertEqual(inferred, trained, accuracy: 2, "relief-infer \(inferred) dB, trainer \(trained) dB, baseline \(baseline) dB")
        XCTAssertGreaterThan(abs(inferred - baseline), 3, "relief-infer \(inferred) dB is the mean-input baseline's \(baseline) dB")
        // 6 updates at a fixed 0.9 leave 0.9⁶ of the initialisation in the EMA: auto takes the raw weights.
        XCTAssertTrue(output.contains("model.safetensors: the EMA (6 updates) holds 53.1 % of its initial weights (≥ 1 %), "
                                      + "so the raw weights are used"), output)

        // A renamed copy of the checkpoint, one input view fewer than trained, a non-input image missing.
        let renamed = TinyHeads.folder + "/best-of-\(run)", partialRoot = TinyHeads.folder + "/partial-\(run)"
        try fm.copyItem(atPath: checkpoint.url.path, toPath: renamed)
        try fm.createDirectory(atPath: partialRoot, withIntermediateDirectories: true)
        try fm.copyItem(atPath: subject.folder, toPath: partialRoot + "/" + subject.id)
        let missing = partialRoot + "/" + subject.id + "/images/cam_004.png"
        try fm.removeItem(atPath: missing)
        let (s3, o3) = try Programs.run(infer, ["reconstruct", "--checkpoint", renamed, "--input", partialRoot + "/" + subject.id,
                                                "--out", out + "-partial", "--views", "0", "--weights", "ema"])
        XCTAssertEqual(s3, 0, o3)
        XCTAssertTrue(o3.contains(renamed + "/ema.safetensors: --weights ema"), o3)
        XCTAssertTrue(o3.contains("warning: 1 input view(s) given, the model was trained on 2"), o3)
        XCTAssertTrue(o3.contains("note: no image for view(s) 4 (images/cam_004.png): rendered, not scored"), o3)
        let partial = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "-partial/metrics.json"))) as! [String: Any]
        XCTAssertEqual((partial["novel_views"] as! [[String: Any]]).map { $0["view"] as! Int }, [1, 2, 3, 5])
        // A missing input image stays an error, naming the file.
        let (s4, o4) = try Programs.run(infer, ["reconstruct", "--checkpoint", renamed, "--input", partialRoot + "/" + subject.id,
                                                "--out", out + "-partial2", "--views", "0,4"])
        XCTAssertNotEqual(s4, 0)
        XCTAssertTrue(o4.contains(missing), o4)

        // A checkpoint of another model is refused by name.
        let probeRun = "probe-\(UUID().uuidString)"
        let probe = try Recipe.load(file: TinyHeads.recipe(steps: 2, run: probeRun))
        _ = try Trainer(recipe: probe, task: try TaskCatalog.make(probe), communicator: SingleProcessCommunicator(), say: { _ in }).run()
        let (s2, o2) = try Programs.run(infer, ["reconstruct", "--checkpoint", TinyHeads.folder + "/runs/\(probeRun)",
                                                "--input", subject.folder, "--out", out + "-probe"])
        XCTAssertNotEqual(s2, 0)
        // Its EMA warmed up (diffusers' rational ramp: the first update copies the weights), so auto takes it.
        XCTAssertTrue(o2.contains("ema.safetensors: the EMA (2 updates) holds 0.0 % of its initial weights"), o2)
        XCTAssertTrue(o2.contains("no 'gslrm_config' metadata; not a GS-LRM checkpoint (model: probe)"), o2)
    }

    /// The pipeline's reconstructor (`views.inputs: diffusion`): trained on pipeline-rig subjects
    /// with the six diffusion views of α as inputs, and reconstructed from those six views of a
    /// subject by `relief-infer reconstruct --views`, scored on all 34 other views.
    func testTrainsOnTheSixDiffusionViewsAndReconstructsFromThem() throws {
        let root = TinyHeads.folder + "/pipeline-\(UUID().uuidString)"
        var synth = SynthesisOptions()
        (synth.identities, synth.variants, synth.rig, synth.resolution, synth.seed) = (5, 1, .pipeline, 64, 3)
        _ = try Synthesizer.run(synth, root: URL(fileURLWithPath: root + "/renders"))
        var convert = DatasetConverter.Options(inputs: [root + "/renders"], output: root + "/dataset", resolution: 32)
        convert.valFraction = 0.4
        _ = try DatasetConverter(convert).run()

        let run = "lift-\(UUID().uuidString)"
        let path = TinyHeads.recipe(steps: 4, run: run).withLines(["model": Self.model, "data": "{train: \(root)/dataset}",
                                                                    "views": "{inputs: diffusion, ring: any, supervision: 10}"])
        let recipe = try Recipe.load(file: path)
        let task = try TaskCatalog.make(recipe)
        XCTAssertEqual(task.viewSelection, .diffusionInputs(condition: .any, supervision: 4, nearInputs: false))
        var said: [String] = []
        let trainer = try Trainer(recipe: recipe, task: task, communicator: SingleProcessCommunicator(), say: { said.append($0) })
        XCTAssertEqual(try trainer.run(), .finished)
        let eval = said.last { $0.hasPrefix("eval at step 4") } ?? ""
        for key in ["psnr ", "ssim ", "psnr_mean_input_baseline "] { XCTAssertTrue(eval.contains(key), eval) }
        let checkpoint = try CheckpointDirectory.resolve(path: TinyHeads.folder + "/runs/\(run)")
        let weights = try checkpoint.safetensors("model.safetensors")
        XCTAssertTrue(weights.metadata["gslrm_config"]?.contains("\"input_views\":6") ?? false, "\(weights.metadata)")

        // Pipeline subjects keep the ring in views 0–7: α = 0's six diffusion views are 0, 1, 2, 4, 6, 7.
        let subject = try RenderFolder.subjects(in: [root + "/renders"])[0]
        let out = root + "/reconstruct"
        let (status, output) = try Programs.run(try Programs.requireBuilt("relief-infer"), [
            "reconstruct", "--checkpoint", checkpoint.url.path, "--input", subject.folder, "--out", out, "--views", "0,1,2,4,6,7",
            "--min-opacity", "0"])
        XCTAssertEqual(status, 0, output)
        XCTAssertFalse(output.contains("warning"), output)
        XCTAssertEqual(try GaussianPLY.read(URL(fileURLWithPath: out + "/gaussians.ply")).count, 6 * 32 * 32, "one Gaussian per input pixel")
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/metrics.json"))) as! [String: Any]
        XCTAssertEqual(metrics["input_views"] as? [Int], [0, 1, 2, 4, 6, 7])
        XCTAssertEqual((metrics["novel_views"] as! [[String: Any]]).map { $0["view"] as! Int }, [3, 5] + Array(8..<40))
        XCTAssertTrue((metrics["mean_psnr"] as! Double).isFinite)

        // A dataset without the ring (TinyHeads: the six-view diffusion rig) stops the run before
        // the first step with the ring's message, naming the dataset.
        let noRing = try Recipe.load(file: path, overrides: ["data.train=\(TinyHeads.folder)/dataset", "run_name=noring-\(UUID().uuidString)"])
        XCTAssertThrowsError(try Trainer(recipe: noRing, task: try TaskCatalog.make(noRing), communicator: SingleProcessCommunicator(),
                                         say: { _ in })) {
            let message = "\($0)"
            XCTAssertTrue(message.contains(TinyHeads.folder + "/dataset") && message.contains("the diffusion ring needs 8 views at 0° elevation; subjects have 6 views"),
                          message)
        }
    }

    /// A non-square dataset is the data's fault: the error names data.train and its manifest.
    func testNonSquareDatasetBlamesTheData() throws {
        let folder = TinyHeads.folder + "/wide-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var manifest = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: TinyHeads.folder + "/dataset/manifest.json"))) as! [String: Any]
        manifest["height"] = 16
        try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: folder + "/manifest.json"))
        let path = recipe(run: "wide-\(UUID().uuidString)")
        XCTAssertThrowsError(try TaskCatalog.make(try Recipe.load(file: path, overrides: ["data.train=\(folder)"]))) {
            XCTAssertEqual("\($0)", "--set data.train=\(folder): data.train holds 32×16 views (\(folder)/manifest.json); gslrm needs square views")
        }
    }

    /// The main job picks its held-out subject with `data-tools inspect --subjects val`.
    func testInspectListsTheSubjectsOfASplit() throws {
        let tool = try Programs.requireBuilt("data-tools")
        let manifest = try Manifest.read(dataset: TinyHeads.folder + "/dataset")
        for split in ["train", "val"] {
            let (status, output) = try Programs.run(tool, ["inspect", TinyHeads.folder + "/dataset", "--subjects", split])
            XCTAssertEqual(status, 0, output)
            let expected = manifest.shards.filter { $0.split == split }.flatMap(\.subjects)
            XCTAssertFalse(expected.isEmpty)
            XCTAssertEqual(output.split(separator: "\n").map(String.init), expected)
        }
        let (status, output) = try Programs.run(tool, ["inspect", TinyHeads.folder + "/dataset", "--subjects", "test"])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(output.contains("no split 'test' (it has train, val)"), output)
    }

    func testModelKeysAreChecked() throws {
        func error(_ model: String) -> String {
            do { _ = try TaskCatalog.make(try Recipe.load(file: recipe(run: "bad-\(UUID().uuidString)", model: model))) } catch {
                return "\(error)"
            }
            return "no error"
        }
        XCTAssertTrue(error("{kind: gslrm, patch_size: 5}").contains("model.patch_size describes no model: resolution 32 is not divisible by patch size 5"),
                      error("{kind: gslrm, patch_size: 5}"))
        XCTAssertTrue(error("{kind: gslrm, width: 30, heads: 4}").contains("width 30 is not divisible by heads 4"))
        XCTAssertTrue(error("{kind: gslrm, width: 16, heads: 3}").contains("model.heads is 3: width 16 is not divisible by heads 3"),
                      error("{kind: gslrm, width: 16, heads: 3}"))
        XCTAssertTrue(error("{kind: gslrm, perceptual_weight: 0.5}").contains("model.perceptual_weight is 0.5 but model.perceptual_weights names no VGG19 weights file"))
        XCTAssertTrue(error("{kind: gslrm, perceptual_weight: 0.5, perceptual_weights: /nonexistent/vgg19.safetensors}")
            .contains("model.perceptual_weights cannot be used: perceptual loss weights /nonexistent/vgg19.safetensors"),
                      error("{kind: gslrm, perceptual_weight: 0.5, perceptual_weights: /nonexistent/vgg19.safetensors}"))
        XCTAssertTrue(error("{kind: gslrm, plucker: moment}").contains("model.plucker is 'moment'; expected one of moment_direction, direction_nearest_point"))
        XCTAssertTrue(error("{kind: gslrm, depth: 4}").contains("model.depth is not a known key"))
    }
}

private extension String {
    /// The recipe file at this path with some top-level lines (`key: value`) replaced.
    func withLines(_ replacements: [String: String]) -> String {
        let text = try! String(contentsOfFile: self, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard let key = line.split(separator: ":").first.map(String.init), let value = replacements[key] else { return String(line) }
            return "\(key): \(value)"
        }
        try! lines.joined(separator: "\n").write(toFile: self, atomically: true, encoding: .utf8)
        return self
    }
}
