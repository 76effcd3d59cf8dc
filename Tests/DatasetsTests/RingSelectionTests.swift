import Datasets
import Foundation
import Splatting
import Tensors
import XCTest

/// The multi-view diffusion model's view selection (`ViewSelection.ring`) and its baselines.
final class RingSelectionTests: XCTestCase {
    /// Row-major Float w2c of `cameras`, as shards store them.
    func w2c(_ cameras: [Camera]) -> [Float] { cameras.flatMap { $0.worldToCamera.elements.map(Float.init) } }

    /// Azimuth (degrees, [0, 360)) and elevation of a stored camera, computed here in Double from
    /// the matrix: centre −Rᵀt at r·(cos e·sin a, −cos e·cos a, sin e).
    func angles(_ m: ArraySlice<Float>, view v: Int) -> (azimuth: Double, elevation: Double) {
        let b = m.startIndex + v * 16
        let r = (0..<3).map { i in (0..<3).map { j in Double(m[b + i * 4 + j]) } }, t = (0..<3).map { Double(m[b + $0 * 4 + 3]) }
        let c = (0..<3).map { j in -(0..<3).reduce(0.0) { $0 + r[$1][j] * t[$1] } }
        let azimuth = atan2(c[0], -c[1]) * 180 / .pi
        return ((azimuth + 360).truncatingRemainder(dividingBy: 360), atan2(c[2], hypot(c[0], c[1])) * 180 / .pi)
    }

    func offset(_ a: Double, from b: Double) -> Double { ((a - b).truncatingRemainder(dividingBy: 360) + 360).truncatingRemainder(dividingBy: 360) }

    /// Returned views' azimuths relative to the condition, rounded to 0.01°.
    func offsets(_ views: [Int], _ m: ArraySlice<Float>) -> [Double] {
        let condition = angles(m, view: views[0]).azimuth
        return views.dropFirst().map { (offset(angles(m, view: $0).azimuth, from: condition) * 100).rounded() / 100 }
    }

    func testRingViewsHaveTheDiffusionOffsetsFromTheirCameras() throws {
        let pipeline = OrbitRig.Preset.pipeline.cameras(size: 16)
        // The ring found from the cameras wherever it sits in the file: ring8, pipeline, and a
        // pipeline subject stored in a scrambled order.
        var scrambled = Array(pipeline.indices)
        var shuffle = Philox(seed: 5)
        for i in stride(from: scrambled.count - 1, to: 0, by: -1) { scrambled.swapAt(i, shuffle.int(below: i + 1)) }
        let rigs: [(String, [Camera])] = [("ring8", OrbitRig.Preset.ring8.cameras(size: 16)), ("pipeline", pipeline),
                                           ("scrambled pipeline", scrambled.map { pipeline[$0] })]
        for (name, cameras) in rigs {
            let m = w2c(cameras)[...]
            var rng = Philox(seed: 1)
            var conditions = Set<Int>()
            for _ in 0..<200 {
                let any = try ViewSelection.ring(condition: .any, reconstructInput: true).choose(views: cameras.count, w2c: m, rng: &rng)
                XCTAssertEqual(any.count, 7)
                XCTAssertEqual(any[0], any[1], "\(name): target 0 is the condition view itself")
                XCTAssertEqual(offsets(any, m), [0, 45, 90, 180, 270, 315], name)
                for v in any { XCTAssertEqual(angles(m, view: v).elevation, 0, accuracy: 1e-3, name) }
                conditions.insert(Int((angles(m, view: any[0]).azimuth / 45).rounded()) % 8)

                let front = try ViewSelection.ring(condition: .front, reconstructInput: true).choose(views: cameras.count, w2c: m, rng: &rng)
                let frontAzimuth = angles(m, view: front[0]).azimuth
                XCTAssertLessThan(min(frontAzimuth, 360 - frontAzimuth), 1e-3, "\(name): `front` conditions on azimuth 0")
                XCTAssertEqual(offsets(front, m), [0, 45, 90, 180, 270, 315], name)

                for condition in ViewSelection.RingCondition.allCases {
                    let novel = try ViewSelection.ring(condition: condition, reconstructInput: false).choose(views: cameras.count, w2c: m, rng: &rng)
                    XCTAssertEqual(novel.count, 7)
                    XCTAssertFalse(novel.dropFirst().contains(novel[0]), "\(name): the ablation never returns the condition view")
                    let relative = offsets(novel, m)
                    XCTAssertEqual(relative, [45, 90, 135, 180, 270, 315], name)
                    XCTAssertFalse(relative.contains(0), "\(name): no target at the input camera")
                }
            }
            XCTAssertEqual(conditions, Set(0..<8), "\(name): `any` draws every ring azimuth as the condition")
        }
        // pipeline's ring is its first eight files.
        var rng = Philox(seed: 2)
        let front = try ViewSelection.ring(condition: .front, reconstructInput: true).choose(views: 40, w2c: w2c(pipeline)[...], rng: &rng)
        XCTAssertEqual(front, [0, 0, 1, 2, 4, 6, 7])
    }

    func testDiffusionInputsAreTheSixRingViewsThenOtherSupervision() throws {
        let pipeline = OrbitRig.Preset.pipeline.cameras(size: 16)
        var scrambled = Array(pipeline.indices)
        var shuffle = Philox(seed: 11)
        for i in stride(from: scrambled.count - 1, to: 0, by: -1) { scrambled.swapAt(i, shuffle.int(below: i + 1)) }
        for (name, cameras) in [("pipeline", pipeline), ("scrambled pipeline", scrambled.map { pipeline[$0] })] {
            let m = w2c(cameras)[...]
            var rng = Philox(seed: 3)
            var conditions = Set<Int>(), supervised = Set<Int>()
            for near in [false, true] {
                for _ in 0..<100 {
                    let any = try ViewSelection.diffusionInputs(condition: .any, supervision: 8, nearInputs: near)
                        .choose(views: cameras.count, w2c: m, rng: &rng)
                    XCTAssertEqual(any.count, 14)
                    XCTAssertEqual(Set(any).count, 14, "\(name): supervision views are distinct and none is an input: \(any)")
                    let inputs = Array(any.prefix(6))
                    // offsets() is relative to its first view: prepend the condition (input 0).
                    XCTAssertEqual(offsets([inputs[0]] + inputs, m), [0, 45, 90, 180, 270, 315], name)
                    for v in inputs { XCTAssertEqual(angles(m, view: v).elevation, 0, accuracy: 1e-3, name) }
                    conditions.insert(Int((angles(m, view: inputs[0]).azimuth / 45).rounded()) % 8)
                    supervised.formUnion(any.dropFirst(6))
                    if near {
                        // FaceLift's filter: every supervision view within 60° of an input.
                        for v in any.dropFirst(6) {
                            let a = angles(m, view: v)
                            let closest = inputs.map { i -> Double in
                                let b = angles(m, view: i)
                                let d = abs(offset(a.azimuth, from: b.azimuth))
                                return hypot(min(d, 360 - d), a.elevation - b.elevation)
                            }.min()!
                            XCTAssertLessThanOrEqual(closest, 60 + 1e-3, "\(name): view \(v) is near an input")
                        }
                    }
                }
            }
            XCTAssertEqual(conditions, Set(0..<8), "\(name): `any` draws every ring azimuth as α")
            XCTAssertGreaterThan(supervised.count, 30, "\(name): supervision reaches the whole rig")

            let front = try ViewSelection.diffusionInputs(condition: .front, supervision: 34, nearInputs: false)
                .choose(views: cameras.count, w2c: m, rng: &rng)
            let frontAzimuth = angles(m, view: front[0]).azimuth
            XCTAssertLessThan(min(frontAzimuth, 360 - frontAzimuth), 1e-3, "\(name): `front` puts α at azimuth 0")
            XCTAssertEqual(Set(front), Set(0..<40), "\(name): 6 inputs + 34 supervision views are the whole rig")

            // The same seed chooses the same views.
            var a = Philox(seed: 9), b = Philox(seed: 9), c = Philox(seed: 10)
            let selection = ViewSelection.diffusionInputs(condition: .any, supervision: 6, nearInputs: false)
            let first = try (0..<20).map { _ in try selection.choose(views: 40, w2c: m, rng: &a) }
            XCTAssertEqual(first, try (0..<20).map { _ in try selection.choose(views: 40, w2c: m, rng: &b) })
            XCTAssertNotEqual(first, try (0..<20).map { _ in try selection.choose(views: 40, w2c: m, rng: &c) })
        }
        // pipeline's ring is its first eight files: α = 0 gives views 0, 1, 2, 4, 6, 7.
        var rng = Philox(seed: 2)
        let front = try ViewSelection.diffusionInputs(condition: .front, supervision: 2, nearInputs: false)
            .choose(views: 40, w2c: w2c(pipeline)[...], rng: &rng)
        XCTAssertEqual(Array(front.prefix(6)), [0, 1, 2, 4, 6, 7])

        let selection = ViewSelection.diffusionInputs(condition: .any, supervision: 34, nearInputs: false)
        XCTAssertEqual(selection.count, 40)
        XCTAssertNoThrow(try selection.validate(views: 40))
        XCTAssertThrowsError(try ViewSelection.diffusionInputs(condition: .any, supervision: 35, nearInputs: false).validate(views: 40)) {
            XCTAssertTrue("\($0)".contains("the 6 diffusion views as inputs + 35 supervision views need at most 40"), "\($0)")
        }
        XCTAssertThrowsError(try selection.validate(views: 6)) {
            XCTAssertTrue("\($0)".contains("the diffusion ring needs 8 views at 0° elevation; subjects have 6 views"), "\($0)")
        }
    }

    func testDatasetWithoutTheRingIsRefusedNamingIt() throws {
        let root = try Fixtures.temporaryFolder("noring")
        defer { try? FileManager.default.removeItem(atPath: root) }
        // The reconstructor rig (20° elevation) and the six-view diffusion rig (no 135°, 225°) lack it.
        for (name, rig) in [("reconstructor", OrbitRig.Preset.reconstructor), ("diffusion", .diffusion)] {
            for s in 0..<2 { try Fixtures.rigSubject(root: root + "/\(name)", id: "s\(s)", index: s, cameras: rig.cameras(size: 8)) }
            var options = DatasetConverter.Options(inputs: [root + "/\(name)"], output: root + "/\(name)-ds")
            options.valFraction = 0
            _ = try DatasetConverter(options).run()
            let dataset = try ShardedDataset(root + "/\(name)-ds")
            let sampler = DistributedSampler(count: 2, rank: 0, worldSize: 1, batchSize: 1)
            XCTAssertThrowsError(try BatchLoader(dataset: dataset, sampler: sampler, selection: .ring(condition: .any, reconstructInput: true))) {
                let message = "\($0)"
                XCTAssertTrue(message.hasPrefix(root + "/\(name)-ds: split 'train'"), message)
                XCTAssertTrue(rig == .diffusion ? message.contains("the diffusion ring needs 8 views at 0° elevation; subjects have 6 views")
                              : message.contains("subject 's0'") && message.contains("has no ring of 8 views at 0° elevation")
                                  && message.contains("none of its 32 views is at 0° elevation"), message)
            }
            var rng = Philox(seed: 0)
            XCTAssertThrowsError(try ViewSelection.ring(condition: .front, reconstructInput: true)
                .choose(views: rig.viewCount, w2c: dataset.w2c(0), rng: &rng))
            if rig == .reconstructor {
                // The reconstructor's diffusion-view inputs need the ring just as much, and say so alike.
                XCTAssertThrowsError(try ViewSelection.diffusionInputs(condition: .any, supervision: 4, nearInputs: false).validate(dataset)) {
                    let message = "\($0)"
                    XCTAssertTrue(message.hasPrefix(root + "/\(name)-ds: split 'train', sample 0 (subject 's0') has no ring of 8 views"), message)
                    XCTAssertTrue(message.contains("make the data with `data-tools synth --rig ring8` or `--rig pipeline`"), message)
                }
                XCTAssertThrowsError(try ViewSelection.diffusionInputs(condition: .front, supervision: 4, nearInputs: false)
                    .choose(views: rig.viewCount, w2c: dataset.w2c(0), rng: &rng))
            }
        }
        XCTAssertThrowsError(try ViewSelection.ring(condition: .any, reconstructInput: false).validate(views: 6))
        XCTAssertEqual(ViewSelection.ring(condition: .any, reconstructInput: false).count, 7)
    }

    /// Converts `count` pipeline-rig subjects (16²) `<prefix>0`… into `<root>/<prefix>-ds`, all in
    /// its train split; subject k's pixels are those of index `pixelsOf(k)`.
    func pipelineDataset(root: String, prefix: String, count: Int, pixelsOf: (Int) -> Int = { $0 }) throws -> String {
        let cameras = OrbitRig.Preset.pipeline.cameras(size: 16)
        for s in 0..<count {
            try Fixtures.rigSubject(root: root + "/\(prefix)", id: "\(prefix)\(s)", index: pixelsOf(s), cameras: cameras)
        }
        var options = DatasetConverter.Options(inputs: [root + "/\(prefix)"], output: root + "/\(prefix)-ds")
        options.valFraction = 0
        options.threads = 1
        _ = try DatasetConverter(options).run()
        return root + "/\(prefix)-ds"
    }

    func testLoaderReadsTheConditionTwiceWhenTargetZeroIsIt() throws {
        let root = try Fixtures.temporaryFolder("ring-loader")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dataset = try ShardedDataset(try pipelineDataset(root: root, prefix: "s", count: 3))
        XCTAssertEqual(dataset.views, 40)
        let sampler = DistributedSampler(count: dataset.count, rank: 0, worldSize: 1, batchSize: 3, seed: 4)
        let loader = try BatchLoader(dataset: dataset, sampler: sampler, selection: .ring(condition: .any, reconstructInput: true), seed: 9)
        defer { loader.stop() }
        let batch = try loader.next()
        XCTAssertEqual(batch.images.shape, [3, 7, 3, 16, 16])
        let plane = 3 * 16 * 16, images = batch.images.scalars, cameras = batch.w2c.scalars
        for b in 0..<3 {
            XCTAssertEqual(batch.views[b][0], batch.views[b][1])
            XCTAssertEqual(images[(b * 7) * plane ..< (b * 7 + 1) * plane], images[(b * 7 + 1) * plane ..< (b * 7 + 2) * plane])
            XCTAssertEqual(cameras[(b * 7) * 16 ..< (b * 7 + 1) * 16], cameras[(b * 7 + 1) * 16 ..< (b * 7 + 2) * 16])
            XCTAssertNotEqual(images[(b * 7) * plane ..< (b * 7 + 1) * plane], images[(b * 7 + 2) * plane ..< (b * 7 + 3) * plane])
            XCTAssertEqual(offsets(Array(0..<7), batch.w2c.scalars[(b * 7 * 16) ..< ((b + 1) * 7 * 16)]), [0, 45, 90, 180, 270, 315])
        }
    }

    func testBaselinesRetrieveTheSubjectItselfAndScoreFinitely() throws {
        let root = try Fixtures.temporaryFolder("baselines")
        defer { try? FileManager.default.removeItem(atPath: root) }
        // Held-out b0 is a pixel copy of training subject a2 (another identity); b1 and b2 are new.
        let train = try ShardedDataset(try pipelineDataset(root: root, prefix: "a", count: 5))
        let heldOut = try ShardedDataset(try pipelineDataset(root: root, prefix: "b", count: 3) { $0 == 0 ? 2 : 50 + $0 })
        XCTAssertEqual(heldOut.count, 3)
        let bank = try DiffusionBaselines.RingImages(train)
        for s in 0..<train.count {
            for p in 0..<8 {
                let found = bank.nearest(to: bank.view(s, p), position: p)
                XCTAssertEqual(found.subject, s)
                XCTAssertEqual(found.squaredDistance, 0)
            }
        }
        // The mean is the mean: subject views summed back.
        let mean = bank.mean(position: 3)
        let direct = (0..<train.count).reduce(0.0) { $0 + Double(bank.view($1, 3)[bank.view($1, 3).startIndex + 100]) } / Double(train.count)
        XCTAssertEqual(Double(mean[100]), direct, accuracy: 1e-6)

        for reconstructInput in [true, false] {
            let report = try DiffusionBaselines.run(train: train, heldOut: heldOut, condition: .any, reconstructInput: reconstructInput, seed: 3)
            XCTAssertEqual(report.heldOutSubjects, 3)
            XCTAssertEqual(report.sharedIdentities, 0)
            XCTAssertEqual(report.baselines.map(\.name), DiffusionBaselines.names)
            for b in report.baselines {
                XCTAssertEqual(b.perView.count, 6)
                for s in b.perView + [b.novelViews] {
                    XCTAssertTrue(s.psnr.isFinite && s.psnr > 0 && s.psnr <= 99, "\(b.name): \(s)")
                    XCTAssertTrue(s.ssim.isFinite && s.ssim > -1 && s.ssim <= 1 + 1e-9, "\(b.name): \(s)")
                }
                XCTAssertEqual(b.inputView != nil, reconstructInput)
            }
            let copy = report.baselines[2], nearest = report.baselines[0]
            if reconstructInput { XCTAssertEqual(copy.inputView?.psnr, 99, "the condition copied onto its own camera is exact") }
            // One of three held-out subjects is an exact copy of a training subject: its six
            // predictions are exact, so nearest's per-view PSNR is at least (99 + 2·floor)/3.
            XCTAssertGreaterThan(nearest.novelViews.psnr, 33)
            XCTAssertGreaterThan(nearest.novelViews.psnr, report.baselines[1].novelViews.psnr)
        }
        // The same seed draws the same α: identical reports.
        let a = try DiffusionBaselines.run(train: train, heldOut: heldOut, condition: .front, seed: 3)
        let b = try DiffusionBaselines.run(train: train, heldOut: heldOut, condition: .front, seed: 3)
        XCTAssertEqual(a.baselines.map(\.perView), b.baselines.map(\.perView))
        XCTAssertTrue(a.markdown.contains("| nearest_subject |"), a.markdown)
    }
}
