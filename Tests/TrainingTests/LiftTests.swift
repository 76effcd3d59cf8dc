import Checkpoints
import Datasets
import Foundation
import Splatting
import Tensors
import TestSupport
import XCTest
@testable import Training

/// The whole pipeline on the tiny ring: a low stage and a GS-LRM trained for a few steps,
/// joined by `relief-infer lift` (from a subject's view, from a portrait PNG that needs
/// reframing) and scored by `relief-infer evaluate` beside the baselines.
final class LiftTests: XCTestCase {
    static let models: (diffusion: String, reconstructor: String, identity: String) = {
        let low = "lift-low"
        TinyRing.train(TinyRing.diffusion(run: low, steps: 2))
        let gslrm = "lift-gslrm"
        TinyRing.train(TinyRing.write(run: gslrm, """
            model: {kind: gslrm, width: 32, layers: 1, heads: 2, patch_size: 8}
            data: {train: \(TinyRing.folder)/ring-32}
            views: {inputs: diffusion, ring: any, supervision: 8}
            optimizer: {lr: 0.001, ema_decay: 0}
            schedule: {kind: constant}
            training: {steps: 2, batch_size_per_rank: 2}
            evaluation: {every: 0}
            """))
        TinyRing.train(IdentityTaskTests.recipe(run: "lift-identity", steps: 2))
        return (TinyRing.folder + "/runs/" + low, TinyRing.folder + "/runs/" + gslrm, TinyRing.folder + "/runs/lift-identity")
    }()

    func json(_ file: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as! [String: Any]
    }

    func testLiftWritesViewsGaussiansTurntableAndScoresEveryView() throws {
        let (low, gslrm, identity) = Self.models
        let infer = try Programs.requireBuilt("relief-infer")
        let subject = try RenderFolder.subjects(in: [TinyRing.folder + "/renders"])[0]
        let out = TinyRing.folder + "/lift-\(UUID().uuidString)"
        let (status, output) = try Programs.run(infer, ["lift", "--diffusion", low, "--reconstructor", gslrm, "--input", subject.folder,
                                                        "--view", "2", "--steps", "2", "--identity", identity, "--out", out])
        XCTAssertEqual(status, 0, output)
        // The generated views are a render folder at α + the model's offsets (view 2 = 90°).
        let cameras = try CameraFile.read(out + "/views/opencv_cameras.json").frames.map(Camera.init)
        XCTAssertEqual(cameras.count, 6)
        XCTAssertEqual(atan2(cameras[3].center.x, -cameras[3].center.y) * 180 / .pi, -90, accuracy: 1e-6)  // 90° + 180°
        for file in ["gaussians.ply", "sheet.png", "turntable/frame_000.png", "turntable/frame_035.png", "renders/cam_039.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + file), file)
        }
        let ply = try String(contentsOfFile: out + "/gaussians.ply", encoding: .isoLatin1)
        XCTAssertTrue(ply.hasPrefix("ply\nformat binary_little_endian 1.0\n"))
        let metrics = try json(out + "/metrics.json")
        XCTAssertEqual((metrics["views"] as? [[String: Any]])?.count, 40, "every view of the subject is scored")
        let byElevation = try XCTUnwrap(metrics["by_elevation"] as? [String: [String: Any]])
        XCTAssertEqual(byElevation["0"]?["count"] as? Int, 8)
        XCTAssertEqual(byElevation["20"]?["count"] as? Int, 32)
        let all = try XCTUnwrap(metrics["all_views"] as? [String: Any])
        XCTAssertTrue((all["psnr"] as? Double).map { $0.isFinite && $0 > 0 } ?? false, "\(all)")
        XCTAssertTrue((all["csim"] as? Double).map { $0 >= -1 && $0 <= 1 } ?? false, "\(all)")
        let seconds = try XCTUnwrap(metrics["seconds"] as? [String: Double])
        XCTAssertEqual(Set(seconds.keys), ["load", "low_stage", "high_stage", "reconstruction", "lift", "write_views_and_ply", "render"])

        // A portrait PNG far from the training framing (small head, low right, in a wide
        // picture) is reframed; an RGB picture that is not square is refused.
        let render = try Image.readPNG(subject.folder + "/images/cam_000.png")
        var wide = Image(width: 96, height: 64, channels: 4, repeating: 0)
        for y in 0..<render.height { for x in 0..<render.width { for c in 0..<4 { wide[x + 60, y + 20, c] = render[x, y, c] } } }
        let widePath = TinyRing.folder + "/wide-portrait.png"
        try wide.writePNG(widePath)
        let (s2, o2) = try Programs.run(infer, ["lift", "--diffusion", low, "--reconstructor", gslrm, "--image", widePath, "--steps", "1",
                                                "--out", out + "-png"])
        XCTAssertEqual(s2, 0, o2)
        XCTAssertTrue(o2.contains("reframed to the training framing"), o2)
        XCTAssertNil(try json(out + "-png/metrics.json")["all_views"], "no ground truth for a PNG portrait")
        try wide.converted(toChannels: 3).writePNG(widePath)
        let (s3, o3) = try Programs.run(infer, ["lift", "--diffusion", low, "--reconstructor", gslrm, "--image", widePath, "--out", out + "-rgb"])
        XCTAssertNotEqual(s3, 0)
        XCTAssertTrue(o3.contains("the portrait is 96×64 without alpha: it cannot be framed"), o3)
        // The models swapped are refused by name.
        let (s4, o4) = try Programs.run(infer, ["lift", "--diffusion", low, "--reconstructor", low, "--input", subject.folder, "--view", "0",
                                                "--out", out + "-bad"])
        XCTAssertNotEqual(s4, 0)
        XCTAssertTrue(o4.contains("is a 'mvdiffusion' checkpoint, not a GS-LRM"), o4)
    }

    func testEvaluateScoresPipelineUpperBoundAndBaselinesOnTheSameViews() throws {
        let (low, gslrm, identity) = Self.models
        let infer = try Programs.requireBuilt("relief-infer")
        let out = TinyRing.folder + "/evaluate-\(UUID().uuidString)"
        let (status, output) = try Programs.run(infer, ["evaluate", "--dataset", TinyRing.folder + "/ring-32", "--steps", "1",
                                                        "--pipeline", "tiny=\(low)+\(gslrm)", "--pipeline", "again=\(low)+\(gslrm)",
                                                        "--upper-bound", "tiny=\(gslrm)", "--identity", identity,
                                                        "--out", out])
        XCTAssertEqual(status, 0, output)
        let report = try json(out + "/metrics.json")
        XCTAssertEqual(report["target_views"] as? Int, 32)
        let rows = try XCTUnwrap(report["rows"] as? [[String: Any]])
        XCTAssertEqual(rows.map { $0["name"] as? String }, ["tiny", "again", "gslrm_on_true_views (tiny)", "nearest_subject", "mean_head", "condition_copy"])
        let psnr = rows.map { ($0["target_views"] as? [String: Double])?["psnr"] ?? .nan }
        XCTAssertTrue(psnr.allSatisfy { $0.isFinite && $0 > 3 && $0 < 60 }, "\(psnr)")
        XCTAssertEqual(psnr[0], psnr[1], "the same pipeline twice draws the same noise per subject, whatever the other rows")
        let csim = rows.map { ($0["target_views"] as? [String: Double])?["csim"] ?? .nan }
        XCTAssertTrue(csim.allSatisfy { $0 >= -1 && $0 <= 1 }, "\(csim)")
        XCTAssertEqual(report["identity_encoder"] as? String, identity)
        // Re-rendering the reconstructor's own inputs: for the pipeline and the upper bound, not the baselines.
        let rerender = rows.map { ($0["input_rerender"] as? [String: Double])?["psnr"] }
        XCTAssertTrue(rerender.prefix(3).allSatisfy { $0.map { $0.isFinite && $0 > 3 } ?? false }, "\(rerender)")
        XCTAssertTrue(rerender.suffix(3).allSatisfy { $0 == nil }, "\(rerender)")

        // The mean head row recomputed here from the shards.
        let train = try ShardedDataset(TinyRing.folder + "/ring-32", split: IdentitySplit.train)
        let heldOut = try ShardedDataset(TinyRing.folder + "/ring-32", split: IdentitySplit.validation)
        let all = ViewSelection.fixed(Array(0..<train.views))
        func views(_ d: ShardedDataset, _ i: Int) throws -> Tensor {
            var scratch = [UInt8]()
            return try BatchAssembler(dataset: d, selection: all, background: .white, seed: 0)
                .assemble([i], cursor: .init(), next: .init(), scratch: &scratch).images.reshaped([d.views, 3, 32, 32])
        }
        var mean = Tensor(repeating: 0, shape: [train.views, 3, 32, 32])
        for i in 0..<train.count { mean = mean + (try views(train, i)) }
        mean = mean * (1 / Float(train.count))
        var expected = 0.0
        for i in 0..<heldOut.count {
            let ring = try XCTUnwrap(DiffusionRing.find(w2c: heldOut.w2c(i), views: heldOut.views))
            var scores = ViewScores(views: heldOut.views)
            let targets = (0..<heldOut.views).filter { !ring.contains($0) }
            scores.add(mean, try views(heldOut, i), slots: targets)
            expected += scores.mean(over: targets).psnr
        }
        XCTAssertEqual(psnr[4], expected / Double(heldOut.count), accuracy: 1e-4)
        XCTAssertTrue(try String(contentsOfFile: out + "/table.md", encoding: .utf8).contains("| mean_head | baseline |"))
    }
}
