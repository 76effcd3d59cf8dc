import Checkpoints
import Datasets
import Distributed
import Foundation
import Identity
import Tensors
import TestSupport
import XCTest
@testable import Training

/// The identity task trained for a few steps on the tiny ring set (4 training identities, 2
/// held out): the loss falls, the held-out verification metrics are logged, the checkpoint
/// rebuilds the encoder alone, and `relief-infer identity` compares two images with it.
final class IdentityTaskTests: XCTestCase {
    static func recipe(run: String, model: String = "", groups: Int = 4, steps: Int = 24) -> String {
        TinyRing.write(run: run, """
            model: {kind: identity, block_out_channels: [8, 16], norm_num_groups: \(groups), embedding_dimension: 16, margin_scale: 16, margin: 0.2\(model)}
            data: {train: \(TinyRing.folder)/ring-32, background: random}
            views: {inputs: 3, supervision: 3}
            optimizer: {lr: 0.003, ema_decay: 0}
            schedule: {kind: constant}
            training: {steps: \(steps), batch_size_per_rank: 4}
            evaluation: {every: \(steps), samples: 8}
            """)
    }

    func rows(_ run: String, kind: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: TinyRing.folder + "/runs/\(run)/metrics.jsonl", encoding: .utf8)
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["kind"] as? String == kind }
    }

    func testTrainsEvaluatesAndIsReadFromTheCheckpointAlone() throws {
        let run = "identity-\(UUID().uuidString)"
        TinyRing.train(Self.recipe(run: run))
        let losses = try rows(run, kind: "train").map { $0["loss"] as! Double }
        XCTAssertGreaterThanOrEqual(losses.count, 10)
        XCTAssertLessThan(losses.suffix(3).reduce(0, +), 0.8 * losses.prefix(3).reduce(0, +), "loss \(losses)")
        let eval = try XCTUnwrap(try rows(run, kind: "eval").last)
        for key in ["tar_at_far_1e-3_front_side", "tar_at_far_1e-2_front_side", "tar_at_far_1e-2_all", "cosine_same_front_side",
                    "cosine_same_front_back", "cosine_different", "cosine_different_front_side"] {
            XCTAssertNotNil(eval[key], "\(key) missing from \(eval)")
        }
        // Held-out subjects of distinct identities (one variant each): each front against every other's 2 sides.
        let heldOut = try ShardedDataset(TinyRing.folder + "/ring-32", split: IdentitySplit.validation).count
        XCTAssertGreaterThanOrEqual(heldOut, 2)
        XCTAssertEqual(eval["impostor_pairs_front_side"] as? Double, Double(heldOut * (heldOut - 1) * 2))

        let (encoder, _) = try IdentityEncoder.load(path: TinyRing.folder + "/runs/\(run)")
        XCTAssertEqual(encoder.configuration.classes, 4)
        XCTAssertEqual(encoder.configuration.resolution, 32)
        XCTAssertEqual(encoder.configuration.marginScale, 16)

        guard let infer = Programs.built("relief-infer") else { throw XCTSkip("relief-infer is not built") }
        let subjects = try RenderFolder.subjects(in: [TinyRing.folder + "/renders"])
        let images = try subjects.prefix(2).map { s in
            try FileManager.default.contentsOfDirectory(atPath: s.folder + "/images").sorted().first.map { s.folder + "/images/" + $0 }!
        }
        let (status, output) = try Programs.run(infer, ["identity", "--checkpoint", TinyRing.folder + "/runs/\(run)",
                                                        "--image", images[0], "--image", images[0]])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("cosine similarity 1.0000"), output)
        let (s2, o2) = try Programs.run(infer, ["identity", "--checkpoint", TinyRing.folder + "/runs/\(run)", "--image", images[0]])
        XCTAssertNotEqual(s2, 0)
        XCTAssertTrue(o2.contains("give exactly two --image options"), o2)
    }

    /// The margin ramps from 0 at step 0 to the recipe's at the end of the warm-up and stays
    /// there; it follows the trainer's step, not a count of calls, so a resumed run has the same.
    func testMarginRampsInByStep() throws {
        let task = try TaskCatalog.make(try Recipe.load(file: Self.recipe(run: "ramp", model: ", margin_warmup_steps: 10"))) as! IdentityTask
        XCTAssertTrue(task.summary.contains("m 0.2, ramped from 0 over 10 steps"), task.summary)
        for (step, expected) in [(7, Float(0.14)), (0, 0), (5, 0.1), (10, 0.2), (300, 0.2)] {
            task.willTrain(step: step)
            XCTAssertEqual(task.loss.margin, expected, accuracy: 1e-6, "step \(step)")
        }
        let fixed = try TaskCatalog.make(try Recipe.load(file: Self.recipe(run: "fixed"))) as! IdentityTask
        fixed.willTrain(step: 0)
        XCTAssertEqual(fixed.loss.margin, 0.2)
    }

    /// With partner variants every sample brings another subject of its identity (here, with
    /// one variant per identity, itself with other random views): twice the images, labelled by
    /// sample, and the contrastive term logged.
    func testPartnerVariantsJoinEachSampleAndTheContrastiveLossIsLogged() throws {
        let recipe = try Recipe.load(file: Self.recipe(run: "partners", model: ", partner_variants: true, contrastive_weight: 0.5, margin_loss_weight: 0"))
        let task = try TaskCatalog.make(recipe) as! IdentityTask
        XCTAssertTrue(task.summary.contains("0.5 × supervised contrastive loss (τ 0.1)") && task.summary.contains("partner variant"), task.summary)
        let assembler = BatchAssembler(dataset: task.train, selection: task.viewSelection, background: .random, seed: 1)
        var scratch = [UInt8]()
        let batch = try assembler.assemble([0, 2], cursor: .init(epoch: 1, step: 0), next: .init(), scratch: &scratch)
        let (images, samples) = task.images(of: batch)
        XCTAssertEqual(images.shape, [12, 3, 32, 32])
        XCTAssertEqual(samples, [0, 0, 0, 2, 2, 2, 0, 0, 0, 2, 2, 2])
        XCTAssertNotEqual(images.sliced(axis: 0, range: 0..<6).scalars, images.sliced(axis: 0, range: 6..<12).scalars)
        var rng = Philox(seed: 0, stream: 0)
        let (loss, metrics) = task.loss(on: batch, rng: &rng)
        let contrastive = try XCTUnwrap(metrics["contrastive_loss"])
        XCTAssertEqual(Double(loss.item), 0.5 * contrastive, accuracy: 1e-5)
        XCTAssertGreaterThan(contrastive, 0)

        XCTAssertEqual((0..<4).map { IdentityTask.partner(among: [5, 9], sample: 2, epoch: $0) }, [5, 9, 5, 9])
        XCTAssertEqual(IdentityTask.partner(among: [], sample: 3, epoch: 7), 3)
        do {
            _ = try TaskCatalog.make(try Recipe.load(file: Self.recipe(run: "nothing", model: ", margin_loss_weight: 0")))
            XCTFail("no error with both loss weights 0")
        } catch { XCTAssertTrue("\(error)".contains("model.margin_loss_weight"), "\(error)") }
    }

    func testIdentitySubsetsDifferBySeedAndKeysAreChecked() throws {
        let names = (0..<20).map(String.init)
        let a = IdentityTask.subset(names, fraction: 0.8, seed: 1), b = IdentityTask.subset(names, fraction: 0.8, seed: 2)
        XCTAssertEqual(a.count, 16)
        XCTAssertEqual(a, IdentityTask.subset(names, fraction: 0.8, seed: 1))
        XCTAssertNotEqual(a, b)
        XCTAssertEqual(IdentityTask.subset(names, fraction: 1, seed: 5), names)

        let task = try TaskCatalog.make(try Recipe.load(file: Self.recipe(run: "subset", model: ", identity_fraction: 0.5")))
        XCTAssertEqual((task as! IdentityTask).encoder.configuration.classes, 2)
        func error(_ model: String, groups: Int = 4) -> String {
            do { _ = try TaskCatalog.make(try Recipe.load(file: Self.recipe(run: "bad", model: model, groups: groups))) } catch { return "\(error)" }
            return "no error"
        }
        XCTAssertTrue(error(", identity_fraction: 0.1").contains("model.identity_fraction"), error(", identity_fraction: 0.1"))
        let resolution = error(", resolution: 18")
        XCTAssertTrue(resolution.contains("model.resolution") && resolution.contains("not divisible by 2^2"), resolution)
        XCTAssertTrue(error(", margin: 2").contains("model.margin"), error(", margin: 2"))
        XCTAssertTrue(error(", margin_warmup_steps: -1").contains("model.margin_warmup_steps"), error(", margin_warmup_steps: -1"))
        let groups = error("", groups: 3)
        XCTAssertTrue(groups.contains("model.norm_num_groups") && groups.contains("does not divide 8"), groups)
        let box = error(", face_box: [0.5, 0.2, 0.6]")
        XCTAssertTrue(box.contains("model.face_box") && box.contains("the square inside it"), box)
        let boxed = try TaskCatalog.make(try Recipe.load(file: Self.recipe(run: "box", model: ", face_box: [0.25, 0.25, 0.5]"))) as! IdentityTask
        XCTAssertEqual(boxed.encoder.configuration.faceBox, [0.25, 0.25, 0.5])
        XCTAssertTrue(boxed.summary.contains("of the face box [0.25, 0.25, 0.5]"), boxed.summary)
    }
}
