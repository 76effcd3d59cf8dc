import Foundation
import Splatting
import Tensors

/// The simple predictors the multi-view diffusion model must beat (issue 14's bar), scored like
/// the model: for each held-out subject, a condition view at azimuth α drawn exactly as training
/// draws it (`ViewSelection.ring` through `BatchAssembler`, epoch 0, the given seed), and its six
/// ground-truth targets, all composited on white.
///
/// - `nearest_subject`: the training subject whose view at α is closest (L2) to the condition
///   image; its views at the six target azimuths are the prediction.
/// - `mean_head`: for each target, the mean over training subjects of their view at that azimuth.
/// - `condition_copy`: the condition image copied to every target.
///
/// PSNR (`psnr`, capped at 99 dB for identical images) and SSIM (`ssimLoss`'s 11×11 Gaussian
/// window) per image, averaged over subjects: per target view, for view 0 (the input camera,
/// when the targets reconstruct it) and for the novel views together.
public enum DiffusionBaselines {
    public static let names = ["nearest_subject", "mean_head", "condition_copy"]

    /// PSNR and SSIM averaged over images.
    public struct Score: Codable, Sendable, Equatable {
        public var psnr: Double
        public var ssim: Double
    }

    public struct Baseline: Codable, Sendable {
        public var name: String
        /// One per target view, in target order.
        public var perView: [Score]
        /// Target 0 when it is the input camera (`reconstructInput`), else nil.
        public var inputView: Score?
        /// The targets not at the input camera, together.
        public var novelViews: Score
    }

    public struct Report: Codable, Sendable {
        public var train: String
        public var heldOut: String
        public var trainSubjects: Int
        public var heldOutSubjects: Int
        public var resolution: Int
        public var condition: String
        public var reconstructInput: Bool
        public var seed: UInt64
        /// Target azimuths relative to the condition, degrees, in target order.
        public var targetOffsetsDegrees: [Double]
        /// Held-out identities that also appear among the training subjects (0 for a proper split).
        public var sharedIdentities: Int
        public var baselines: [Baseline]
    }

    /// The training subjects' eight ring views, composited on white, planar RGB:
    /// [subjects, 8, 3, height, width].
    public struct RingImages: Sendable {
        public let subjects: Int
        public let height: Int
        public let width: Int
        public let pixels: [Float]
        var viewSize: Int { 3 * height * width }

        public init(_ dataset: ShardedDataset) throws {
            try ViewSelection.ring(condition: .any, reconstructInput: true).validate(dataset)
            subjects = dataset.count; height = dataset.height; width = dataset.width
            let plane = height * width, ringViews = OrbitRig.ringViewCount
            var raw = [UInt8](repeating: 0, count: ringViews * plane * 4)
            var pixels = [Float](repeating: 0, count: subjects * ringViews * 3 * plane)
            var alpha = [Float](repeating: 0, count: plane)
            for s in 0..<subjects {
                let ring = DiffusionRing.find(w2c: dataset.w2c(s), views: dataset.views)!
                try raw.withUnsafeMutableBytes { try dataset.readCheckedViews(s, views: ring, into: $0.baseAddress!) }
                raw.withUnsafeBufferPointer { src in
                    pixels.withUnsafeMutableBufferPointer { dst in
                        for p in 0..<ringViews {
                            BatchAssembler.composite(src.baseAddress! + p * plane * 4, count: plane, background: SIMD3(repeating: 1),
                                                     rgb: dst.baseAddress! + (s * ringViews + p) * 3 * plane, alpha: &alpha)
                        }
                    }
                }
            }
            self.pixels = pixels
        }

        /// Subject `s`'s view at ring position `p` (azimuth p·45°), [3·height·width].
        public func view(_ s: Int, _ p: Int) -> ArraySlice<Float> {
            let start = (s * OrbitRig.ringViewCount + p) * viewSize
            return pixels[start ..< start + viewSize]
        }

        /// The subject whose view at ring position `p` is closest (sum of squared differences)
        /// to `image`; the first one on ties.
        public func nearest(to image: ArraySlice<Float>, position p: Int) -> (subject: Int, squaredDistance: Double) {
            var best = (subject: -1, squaredDistance: Double.infinity)
            for s in 0..<subjects {
                var d = 0.0
                for (a, b) in zip(view(s, p), image) { let x = Double(a - b); d += x * x }
                if d < best.squaredDistance { best = (s, d) }
            }
            return best
        }

        /// The pixelwise mean over subjects of the view at ring position `p`.
        public func mean(position p: Int) -> [Float] {
            var sum = [Double](repeating: 0, count: viewSize)
            for s in 0..<subjects { for (i, x) in view(s, p).enumerated() { sum[i] += Double(x) } }
            return sum.map { Float($0 / Double(subjects)) }
        }
    }

    /// Scores the three baselines on every held-out subject of `heldOut` against `train`'s subjects.
    public static func run(train: ShardedDataset, heldOut: ShardedDataset, condition: ViewSelection.RingCondition,
                           reconstructInput: Bool = true, seed: UInt64 = 0,
                           progress: ((Int, Int) -> Void)? = nil) throws -> Report {
        guard train.height == heldOut.height, train.width == heldOut.width else {
            throw DataError(heldOut.folder, "images are \(heldOut.width)×\(heldOut.height); the training set \(train.folder) has \(train.width)×\(train.height)")
        }
        guard train.height >= 11, train.width >= 11 else {
            throw DataError(train.folder, "images of \(train.width)×\(train.height) are below SSIM's 11×11 window")
        }
        let selection = ViewSelection.ring(condition: condition, reconstructInput: reconstructInput)
        try selection.validate(heldOut)
        let bank = try RingImages(train)
        let steps = reconstructInput ? DiffusionRing.targetSteps : DiffusionRing.novelTargetSteps
        let means = (0..<OrbitRig.ringViewCount).map { bank.mean(position: $0) }
        let assembler = BatchAssembler(dataset: heldOut, selection: selection, background: .white, seed: seed)
        let targets = steps.count, h = heldOut.height, w = heldOut.width, size = bank.viewSize
        // sums[baseline][view] over subjects.
        var sums = [[Score]](repeating: [Score](repeating: Score(psnr: 0, ssim: 0), count: targets), count: names.count)
        var scratch = [UInt8]()
        for sample in 0..<heldOut.count {
            let batch = try assembler.assemble([sample], cursor: .init(), next: .init(), scratch: &scratch)
            let ring = DiffusionRing.find(w2c: heldOut.w2c(sample), views: heldOut.views)!
            let alpha = ring.firstIndex(of: batch.views[0][0])!
            let images = batch.images.scalars
            let conditionImage = images[0 ..< size]
            let nearest = bank.nearest(to: conditionImage, position: alpha).subject
            for t in 0..<targets {
                let truth = Tensor(Array(images[(1 + t) * size ..< (2 + t) * size]), shape: [1, 3, h, w])
                let position = (alpha + steps[t]) % OrbitRig.ringViewCount
                let predictions = [Array(bank.view(nearest, position)), means[position], Array(conditionImage)]
                for (b, prediction) in predictions.enumerated() {
                    let p = Tensor(prediction, shape: [1, 3, h, w])
                    sums[b][t].psnr += psnr(p, truth)
                    sums[b][t].ssim += 1 - Double(ssimLoss(p, truth).item)
                }
            }
            progress?(sample + 1, heldOut.count)
        }
        let n = Double(heldOut.count)
        let heldOutIdentities = Set((0..<heldOut.count).map(heldOut.identity))
        let shared = Set((0..<train.count).map(train.identity)).intersection(heldOutIdentities).count
        let baselines = names.indices.map { b -> Baseline in
            let perView = sums[b].map { Score(psnr: $0.psnr / n, ssim: $0.ssim / n) }
            let novel = reconstructInput ? Array(perView.dropFirst()) : perView
            return Baseline(name: names[b], perView: perView, inputView: reconstructInput ? perView[0] : nil,
                            novelViews: Score(psnr: novel.map(\.psnr).reduce(0, +) / Double(novel.count),
                                              ssim: novel.map(\.ssim).reduce(0, +) / Double(novel.count)))
        }
        return Report(train: train.folder, heldOut: heldOut.folder, trainSubjects: train.count, heldOutSubjects: heldOut.count,
                      resolution: h, condition: condition.rawValue, reconstructInput: reconstructInput, seed: seed,
                      targetOffsetsDegrees: steps.map { Double($0) * OrbitRig.ringStepDegrees }, sharedIdentities: shared,
                      baselines: baselines)
    }
}

extension DiffusionBaselines.Report {
    /// A Markdown table: one row per baseline; view 0 (input) and the novel views' mean, then
    /// each target view's PSNR.
    public var markdown: String {
        let offsets = targetOffsetsDegrees.map { "+\(Int($0))°" }
        var lines = ["Held-out subjects: \(heldOutSubjects) of \(heldOut) (\(resolution)²), against \(trainSubjects) training subjects of \(train); "
                     + "condition `\(condition)`, seed \(seed), targets α \(offsets.joined(separator: ", ")).", ""]
        let inputColumns = reconstructInput ? ["view 0 PSNR", "view 0 SSIM"] : []
        let header = ["baseline"] + inputColumns + ["novel PSNR", "novel SSIM"] + offsets.map { "PSNR \($0)" }
        lines.append("| " + header.joined(separator: " | ") + " |")
        lines.append("|" + String(repeating: "---|", count: header.count))
        for b in baselines {
            var row = [b.name]
            if let input = b.inputView { row += [String(format: "%.2f", input.psnr), String(format: "%.4f", input.ssim)] }
            row += [String(format: "%.2f", b.novelViews.psnr), String(format: "%.4f", b.novelViews.ssim)]
            row += b.perView.map { String(format: "%.2f", $0.psnr) }
            lines.append("| " + row.joined(separator: " | ") + " |")
        }
        if reconstructInput {
            lines.append("")
            lines.append("PSNR is capped at 99 dB for identical images (`condition_copy`'s view 0 is the input itself).")
        }
        if sharedIdentities > 0 {
            lines.append("")
            lines.append("Warning: \(sharedIdentities) held-out identities also appear in the training subjects.")
        }
        return lines.joined(separator: "\n")
    }
}
