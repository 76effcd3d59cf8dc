import Checkpoints
import Datasets
import Diffusion
import Foundation
import Identity
import Tensors
import TestSupport
import XCTest
@testable import Training

/// ID-TS's identity guidance and loss in the multi-view diffusion model, on the tiny ring: a
/// frozen identity encoder's embedding of the condition view conditions the UNet (and is dropped
/// with the embedding for classifier-free guidance), the identity loss's gradient reaches the
/// UNet's output through the frozen VAE decoder and encoder, and the checkpoint records the
/// encoder so that `relief-infer generate` finds it.
final class IdentityGuidanceTests: XCTestCase {
    static let encoder: String = {
        let run = "guidance-encoder"
        TinyRing.train(IdentityTaskTests.recipe(run: run, steps: 4))
        return TinyRing.folder + "/runs/" + run
    }()

    static func guided(run: String, lossWeight: Double = 0.5, size: Int = 32, steps: Int = 4) -> String {
        TinyRing.diffusion(run: run, size: size, extra: "  identity_encoder: \(encoder)\n  identity_loss_weight: \(lossWeight)", steps: steps)
    }

    func testGuidedRunLogsTheIdentityLossAndGenerates() throws {
        let run = "guided-\(UUID().uuidString)"
        TinyRing.train(Self.guided(run: run))
        let rows = try TinyRing.rows(run, kind: "train")
        let identityLosses = rows.compactMap { $0["identity_loss"] as? Double }
        XCTAssertEqual(identityLosses.count, rows.count, "\(rows)")
        XCTAssertTrue(identityLosses.allSatisfy { $0.isFinite && $0 > 0 && $0 <= 2 }, "\(identityLosses)")
        XCTAssertNotNil(try TinyRing.rows(run, kind: "eval").last?["psnr_novel"] as? Double)

        let file = try CheckpointDirectory.resolve(path: TinyRing.folder + "/runs/\(run)").safetensors("model.safetensors")
        XCTAssertEqual(try FrozenModelSources.read(file).keys.sorted(), ["identity", "vae"])
        XCTAssertTrue(try file.tensors().keys.contains("identity_projection.weight"))
        let model = try MultiViewDiffusionModel.load(file)
        XCTAssertEqual(model.configuration.identityDimension, 16)
        XCTAssertEqual(model.unet.configuration.projectionClassEmbeddingsInputDim, 16 + 16 + 8)

        let infer = try Programs.requireBuilt("relief-infer")
        let subject = try RenderFolder.subjects(in: [TinyRing.folder + "/renders"])[0]
        func generate(_ out: String, _ extra: [String] = []) throws -> Data {
            let (status, output) = try Programs.run(infer, ["generate", "--checkpoint", TinyRing.folder + "/runs/\(run)", "--input", subject.folder,
                                                            "--view", "0", "--steps", "2", "--out", TinyRing.folder + "/" + out] + extra)
            XCTAssertEqual(status, 0, output)
            return try Data(contentsOf: URL(fileURLWithPath: TinyRing.folder + "/\(out)/images/cam_002.png"))
        }
        XCTAssertEqual(try generate("guided-a"), try generate("guided-b", ["--identity", Self.encoder]))
        let generated = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: TinyRing.folder + "/guided-b/metrics.json"))) as! [String: Any]
        let csims = (generated["views"] as! [[String: Any]]).compactMap { $0["csim"] as? Double }
        XCTAssertEqual(csims.count, 6)
        XCTAssertTrue(csims.allSatisfy { $0 >= -1 && $0 <= 1 }, "\(csims)")

        // evaluate-views finds the encoder the same way, and scores CSIM per view with another one.
        let scored = TinyRing.folder + "/views-\(run)"
        let (status, output) = try Programs.run(infer, ["evaluate-views", "--checkpoint", TinyRing.folder + "/runs/\(run)", "--dataset",
                                                        TinyRing.folder + "/ring-32", "--steps", "1", "--identity", Self.encoder, "--out", scored])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("CSIM"), output)
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: scored + "/metrics.json"))) as! [String: Any]
        let csim = try XCTUnwrap(report["csim"] as? [String: Any])
        let perView = try XCTUnwrap(csim["per_view"] as? [Double])
        XCTAssertEqual(perView.count, 6)
        XCTAssertTrue(perView.allSatisfy { $0 >= -1 && $0 <= 1 }, "\(perView)")
        XCTAssertEqual(csim["novel_views"] as? Double ?? .nan, perView.dropFirst().reduce(0, +) / 5, accuracy: 1e-9)
    }

    /// The embedding steers the prediction, and dropping the embedding (classifier-free
    /// guidance's unconditional pass) removes it; a model without identity guidance refuses one.
    func testTheEmbeddingConditionsAndIsDroppedWithTheEmbedding() throws {
        let run = "guided-model-\(UUID().uuidString)"
        TinyRing.train(Self.guided(run: run, lossWeight: 0, steps: 2))
        let model = try MultiViewDiffusionModel.load(try CheckpointDirectory.resolve(path: TinyRing.folder + "/runs/\(run)").safetensors("model.safetensors"))
        var rng = Philox(seed: 9)
        let condition = Tensor.normal([1, 4, 8, 8], rng: &rng), noisy = Tensor.normal([6, 4, 8, 8], rng: &rng)
        let a = l2Normalized(Tensor.normal([1, 16], rng: &rng)), b = l2Normalized(Tensor.normal([1, 16], rng: &rng))
        func v(_ identity: Tensor, _ keep: MultiViewDiffusionModel.Keep) -> [Float] {
            withoutGradients { model.velocity(noisy: noisy, timesteps: [500], condition: condition, identity: identity, keep: [keep]).scalars }
        }
        let difference = zip(v(a, .all), v(b, .all)).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(difference, 1e-4)
        let dropped = MultiViewDiffusionModel.Keep(embedding: false, latent: true)
        XCTAssertEqual(v(a, dropped), v(b, dropped))
    }

    /// d(identity loss)/d(v̂) through x̂₀, the frozen VAE decoder and the frozen identity encoder,
    /// against finite differences (one sample's six views at 16², 4² latents: every element is
    /// perturbed; the loss scaled so that its gradients are well above float32's rounding).
    func testIdentityLossGradientReachesThePredictionThroughBothFrozenNetworks() throws {
        let task = try TaskCatalog.make(try Recipe.load(file: Self.guided(run: "fd-\(UUID().uuidString)", size: 16))) as! MVDiffusionTask
        let encoder = try XCTUnwrap(task.identityEncoder)
        var rng = Philox(seed: 11)
        let targets = Tensor.uniform([6, 3, 16, 16], rng: &rng)
        let noisy = Tensor.normal([6, 4, 4, 4], rng: &rng), prediction = Tensor.normal([6, 4, 4, 4], std: 0.5, rng: &rng)
        func loss(_ v: Tensor) -> Tensor {
            task.identityLoss(prediction: v, noisy: noisy, timesteps: [300], targets: targets, encoder: encoder) * 1000
        }
        let tape = Tape.shared
        tape.reset()
        let tracked = prediction.requiringGradient()
        tape.backward(loss(tracked), seed: Tensor(scalar: 1))
        let gradient = try XCTUnwrap(tape.gradient(of: tracked)).scalars
        tape.reset()
        XCTAssertGreaterThan(gradient.map(abs).max()!, 1e-2)
        XCTAssertLessThan(maxGradientError(inputs: [prediction], epsilon: 1e-2, floor: 1e-1) { loss($0[0]) }, 5e-2)
    }

    func testIdentityKeysAreChecked() throws {
        func error(_ extra: String) -> String {
            do { _ = try TaskCatalog.make(try Recipe.load(file: TinyRing.diffusion(run: "bad-\(UUID().uuidString)", extra: extra))) } catch { return "\(error)" }
            return "no error"
        }
        XCTAssertTrue(error("  identity_loss_weight: 0.1").contains("model.identity_loss_weight is 0.1; the identity loss needs model.identity_encoder"),
                      error("  identity_loss_weight: 0.1"))
        XCTAssertTrue(error("  identity_encoder: \(TinyRing.vae)").contains("model.identity_encoder cannot be loaded"), error("  identity_encoder: \(TinyRing.vae)"))
    }
}
