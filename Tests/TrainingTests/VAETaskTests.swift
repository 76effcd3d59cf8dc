import Checkpoints
import Datasets
import Diffusion
import Distributed
import Foundation
import TestSupport
import XCTest
@testable import Training

/// The VAE task trained for a few steps on the tiny head set: the loss falls, held-out PSNR
/// rises far above the untrained model's, the checkpoint carries the diffusers configuration
/// with a measured scaling factor, and `relief-infer vae` / `export` work from it alone.
final class VAETaskTests: XCTestCase {
    static let model = "{kind: vae, block_out_channels: [8, 16, 16], norm_num_groups: 4, ssim_weight: 0.2, kl_weight: 1.0e-6}"

    func recipe(run: String, model: String = VAETaskTests.model, steps: Int = 30) -> String {
        let path = TinyHeads.recipe("optimizer: {lr: 0.003, ema_decay: 0}\nschedule: {kind: constant}\nevaluation: {every: 30, samples: 2}",
                                    steps: steps, run: run)
        var text = try! String(contentsOfFile: path, encoding: .utf8)
        text = text.replacingOccurrences(of: "model: {kind: probe, channels: 6}", with: "model: \(model)")
            .replacingOccurrences(of: "views: {inputs: 1, supervision: 2}", with: "views: {inputs: 2, supervision: 2}")
            .replacingOccurrences(of: "optimizer: {lr: 0.003, ema_decay: 0.9}\n", with: "")
            .replacingOccurrences(of: "schedule: {kind: cosine, warmup_steps: 2}\n", with: "")
            .replacingOccurrences(of: "evaluation: {every: 6, samples: 2}\n", with: "")
        try! text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func rows(_ run: String, kind: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: TinyHeads.folder + "/runs/\(run)/metrics.jsonl", encoding: .utf8)
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["kind"] as? String == kind }
    }

    func testTrainsAndIsReadFromTheCheckpointAlone() throws {
        let run = "vae-\(UUID().uuidString)"
        let recipe = try Recipe.load(file: recipe(run: run))
        var said: [String] = []
        let trainer = try Trainer(recipe: recipe, task: try TaskCatalog.make(recipe), communicator: SingleProcessCommunicator(),
                                  say: { said.append($0) })
        XCTAssertEqual(try trainer.run(), .finished)
        XCTAssertTrue(said.contains { $0.hasPrefix("relief-train: loss: 1.0·L1 + 0.2·(1 − SSIM) + 1e-06·KL") }, "\(said)")

        let train = try rows(run, kind: "train")
        let losses = train.map { $0["loss"] as! Double }
        XCTAssertGreaterThanOrEqual(losses.count, 8)
        let (early, late) = (losses.prefix(2).reduce(0, +) / 2, losses.suffix(2).reduce(0, +) / 2)
        XCTAssertLessThan(late, 0.6 * early, "loss \(losses)")
        // An untrained VAE outputs near-constant grey (PSNR about 8 dB against white-backed heads).
        let firstPSNR = try XCTUnwrap(train.first?["psnr"] as? Double)
        let eval = try XCTUnwrap(try rows(run, kind: "eval").last)
        let psnr = try XCTUnwrap(eval["psnr"] as? Double)
        XCTAssertLessThan(firstPSNR, 12)
        XCTAssertGreaterThan(psnr, firstPSNR + 6, "\(eval)")
        for key in ["ssim", "psnr_chroma", "psnr_bilinear_baseline", "latent_std", "scaling_factor"] { XCTAssertNotNil(eval[key], "\(eval)") }

        let checkpoint = try CheckpointDirectory.resolve(path: TinyHeads.folder + "/runs/\(run)")
        let (model, _) = try AutoencoderKL.load(checkpoint)
        XCTAssertEqual(model.configuration.blockOutChannels, [8, 16, 16])
        XCTAssertEqual(model.configuration.sampleSize, 32)
        let scale = model.configuration.scalingFactor
        XCTAssertNotEqual(scale, AutoencoderKLConfiguration().scalingFactor)
        XCTAssertEqual(scale, eval["scaling_factor"] as! Double, accuracy: 1e-9)

        guard let infer = Programs.built("relief-infer") else { throw XCTSkip("relief-infer is not built") }
        let subject = try RenderFolder.subjects(in: [TinyHeads.folder + "/renders"])[0]
        let out = TinyHeads.folder + "/vae-\(run)"
        let (status, output) = try Programs.run(infer, ["vae", "--checkpoint", checkpoint.url.path, "--input", subject.folder, "--out", out])
        XCTAssertEqual(status, 0, output)
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/metrics.json"))) as! [String: Any]
        XCTAssertEqual((metrics["views"] as! [[String: Any]]).count, 6)
        XCTAssertEqual(metrics["latent_shape"] as? [Int], [6, 4, 8, 8])
        XCTAssertGreaterThan(metrics["mean_psnr"] as! Double, firstPSNR + 4)
        XCTAssertEqual(try PNG.info(out + "/reconstructions/cam_001.png").width, 32)

        // Export, then read the export back both as a diffusers folder and through `relief-infer vae`.
        let exported = TinyHeads.folder + "/export-\(run)"
        let (s2, o2) = try Programs.run(infer, ["export", "--checkpoint", checkpoint.url.path, "--format", "diffusers", "--out", exported])
        XCTAssertEqual(s2, 0, o2)
        let again = try AutoencoderKL.load(diffusersFolder: URL(fileURLWithPath: exported))
        XCTAssertEqual(again.configuration, model.configuration)
        for (key, value) in model.weights() { XCTAssertEqual(again.weights()[key]?.scalars, value.scalars, key) }
        let (s3, o3) = try Programs.run(infer, ["vae", "--checkpoint", exported, "--input", subject.folder, "--out", out + "-exported"])
        XCTAssertEqual(s3, 0, o3)
        let fromExport = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "-exported/metrics.json"))) as! [String: Any]
        XCTAssertEqual(fromExport["mean_psnr"] as! Double, metrics["mean_psnr"] as! Double, accuracy: 1e-9)

        // A checkpoint of another model is refused by name.
        let probeRun = "probe-\(UUID().uuidString)"
        let probe = try Recipe.load(file: TinyHeads.recipe(steps: 2, run: probeRun))
        _ = try Trainer(recipe: probe, task: try TaskCatalog.make(probe), communicator: SingleProcessCommunicator(), say: { _ in }).run()
        let (s4, o4) = try Programs.run(infer, ["vae", "--checkpoint", TinyHeads.folder + "/runs/\(probeRun)", "--input", subject.folder,
                                                "--out", out + "-probe"])
        XCTAssertNotEqual(s4, 0)
        XCTAssertTrue(o4.contains("no 'vae_config' metadata; not a VAE checkpoint (model: probe)"), o4)
    }

    func testModelKeysAreChecked() throws {
        func error(_ model: String) -> String {
            do { _ = try TaskCatalog.make(try Recipe.load(file: recipe(run: "bad-\(UUID().uuidString)", model: model))) } catch {
                return "\(error)"
            }
            return "no error"
        }
        let groups = error("{kind: vae, block_out_channels: [8, 12], norm_num_groups: 8}")
        XCTAssertTrue(groups.contains("model.norm_num_groups is 8, which does not divide block width 12"), groups)
        let factor = error("{kind: vae, block_out_channels: [8, 8, 8, 8, 8, 8, 8], norm_num_groups: 4}")
        XCTAssertTrue(factor.contains("model.block_out_channels gives a downsampling factor of 64, which does not divide"), factor)
        XCTAssertTrue(error("{kind: vae, latent_channels: 0}").contains("model.latent_channels"), error("{kind: vae, latent_channels: 0}"))
        XCTAssertTrue(error("{kind: vae, pixel_loss: l2}").contains("model.pixel_loss is 'l2'; expected one of l1, mse"), error("{kind: vae, pixel_loss: l2}"))
        XCTAssertTrue(error("{kind: vae, perceptual_weight: 0.5}").contains("model.perceptual_weight is 0.5 but model.perceptual_weights names no VGG19 weights file"))
        XCTAssertTrue(error("{kind: vae, width: 4}").contains("model.width is not a known key"), error("{kind: vae, width: 4}"))
    }
}
