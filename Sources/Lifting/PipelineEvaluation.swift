import Datasets
import Diffusion
import Foundation
import Identity
import Reconstruction
import Splatting
import Tensors

/// The whole pipeline scored on a dataset's held-out subjects in FaceLift's form, beside the
/// baselines and the upper bound, every row on the same subjects, condition views and targets.
///
/// Each held-out subject needs the diffusion ring (eight views at 0° elevation, found from its
/// cameras) and the views to score: its views off the ring (the 32 at 20° elevation of the
/// `pipeline` rig). The condition view is the ring view at α, drawn exactly as training and
/// `data-tools baselines` draw it (`ViewSelection.ring`, epoch 0, `selectionSeed`). Rows:
///
/// - each pipeline (`HeadLifter`): the condition view → six generated views → Gaussians,
///   rendered at every target camera; and its multi-view consistency: the Gaussians re-rendered
///   at the six generated views' own cameras against those views (views that agree on one head
///   are reproduced; views that contradict each other are averaged away);
/// - `gslrm_on_true_views` per reconstructor: the GS-LRM on the six ground-truth diffusion
///   views (α + the model's offsets) — what a perfect diffusion model would give;
/// - `nearest_subject`: the training subject whose ring view at α is closest (L2) to the
///   condition view, its views at the target cameras;
/// - `mean_head`: the mean training subject's view at each target camera;
/// - `condition_copy`: the condition view as every target.
///
/// The baselines need every subject on the same cameras (a synthetic rig); they are left out,
/// with a note, when the training set's cameras differ.
public enum PipelineEvaluation {
    public struct Score: Codable, Sendable, Equatable {
        public var psnr: Double
        public var ssim: Double
        /// Identity similarity to the ground truth (mean cosine of the identity encoder's
        /// embeddings), when an encoder is given.
        public var csim: Double?
        /// LPIPS (VGG, v0.1) to the ground truth, when its weights are given; lower is closer.
        public var lpips: Double?
    }

    public struct Row: Codable, Sendable {
        public var name: String
        /// `pipeline`, `upper_bound` or `baseline`.
        public var kind: String
        /// The views off the ring (the headline: FaceLift's "all views").
        public var targetViews: Score
        /// The ring views other than the condition view.
        public var novelRingViews: Score
        /// The reconstructor's input views against its Gaussians re-rendered at their cameras
        /// (pipelines: the generated views' consistency; upper bounds: the same for true views).
        public var inputRerender: Score?
        /// Seconds per subject (0 for the baselines).
        public var secondsPerSubject: Double
    }

    public struct Report: Codable, Sendable {
        public var heldOut: String
        public var train: String?
        public var subjects: Int
        public var resolution: Int
        public var targetViews: Int
        public var condition: String
        public var selectionSeed: UInt64
        /// The identity encoder CSIM is measured with, if any.
        public var identityEncoder: String?
        /// The LPIPS weights file, if any.
        public var lpipsWeights: String?
        public var rows: [Row]
        public var notes: [String]
    }

    /// A named pipeline row.
    public struct Pipeline {
        public var name: String
        public var lifter: HeadLifter
        public init(name: String, lifter: HeadLifter) { (self.name, self.lifter) = (name, lifter) }
    }

    /// Scores `pipelines`, the upper bound of each reconstructor in `upperBounds` and (with
    /// `train`) the baselines on the first `subjects` held-out subjects; with `identity`, CSIM too,
    /// and with `lpips`, LPIPS.
    public static func run(heldOut: ShardedDataset, train: ShardedDataset?, pipelines: [Pipeline], upperBounds: [(name: String, model: GSLRM)],
                           condition: ViewSelection.RingCondition, selectionSeed: UInt64, sampling: MultiViewDiffusionModel.Sampling,
                           seed: UInt64, subjects: Int? = nil, identity: (name: String, encoder: IdentityEncoder)? = nil,
                           lpips: (name: String, metric: LPIPS)? = nil, progress: ((String) -> Void)? = nil) throws -> Report {
        let ringSelection = ViewSelection.ring(condition: condition, reconstructInput: true)
        try ringSelection.validate(heldOut)
        let h = heldOut.height, w = heldOut.width, views = heldOut.views
        for p in pipelines where p.lifter.resolution != h || w != h {
            throw DataError(heldOut.folder, "views are \(w)×\(h); pipeline '\(p.name)' reconstructs at \(p.lifter.resolution)²")
        }
        for u in upperBounds where u.model.configuration.resolution != h {
            throw DataError(heldOut.folder, "views are \(w)×\(h); reconstructor '\(u.name)' works at \(u.model.configuration.resolution)²")
        }
        let count = min(subjects ?? heldOut.count, heldOut.count)
        let conditionDraw = BatchAssembler(dataset: heldOut, selection: ringSelection, background: .white, seed: selectionSeed)
        let allViews = ViewSelection.fixed(Array(0..<views))
        let everything = BatchAssembler(dataset: heldOut, selection: allViews, background: .white, seed: selectionSeed)

        var notes: [String] = []
        var baselines: TrainingSetBaselines?
        if let train {
            if let problem = TrainingSetBaselines.problem(train: train, heldOut: heldOut) { notes.append("baselines left out: \(problem)") } else {
                baselines = try TrainingSetBaselines(train: train)
            }
        }
        let names = pipelines.map(\.name) + upperBounds.map { "gslrm_on_true_views (\($0.name))" }
            + (baselines == nil ? [] : ["nearest_subject", "mean_head", "condition_copy"])
        let kinds = pipelines.map { _ in "pipeline" } + upperBounds.map { _ in "upper_bound" } + (baselines == nil ? [] : Array(repeating: "baseline", count: 3))
        // Per row: sums over subjects of the subject's mean over its target views and over its
        // novel ring views.
        var targetSums = names.map { _ in Score(psnr: 0, ssim: 0, csim: identity == nil ? nil : 0, lpips: lpips == nil ? nil : 0) }
        var ringSums = targetSums
        var rerenderSums = names.map { _ in Score(psnr: 0, ssim: 0) }
        var seconds = names.map { _ in 0.0 }
        var targetCount = 0
        var scratch = [UInt8]()
        for sample in 0..<count {
            let conditionView = try conditionDraw.assemble([sample], cursor: .init(), next: .init(), scratch: &scratch).views[0][0]
            let batch = try everything.assemble([sample], cursor: .init(), next: .init(), scratch: &scratch)
            let truth = batch.images.reshaped([views, 3, h, w]), cameras = batch.cameras()[0]
            let ring = DiffusionRing.find(w2c: heldOut.w2c(sample), views: views)!
            let alphaPosition = ring.firstIndex(of: conditionView)!
            let targets = (0..<views).filter { !ring.contains($0) }
            guard !targets.isEmpty else {
                throw DataError(heldOut.folder, "subject '\(heldOut.subject(sample))' has only its ring views: nothing off the ring to score "
                                + "(make the data with `data-tools synth --rig pipeline`)")
            }
            targetCount = targets.count
            let portrait = truth.sliced(axis: 0, range: conditionView ..< conditionView + 1)
            let novelRing = ring.filter { $0 != conditionView }
            var row = 0
            /// The reconstructor's inputs [6, 3, h, w] against its Gaussians rendered at their cameras, for the current row.
            func scoreRerender(_ gaussians: PixelGaussians, inputs: Tensor, cameras: [Camera]) {
                var subject = ViewScores(views: cameras.count)
                subject.add(HeadLifter.render(gaussians, at: cameras), inputs)
                let all = subject.mean(over: Array(0..<cameras.count))
                rerenderSums[row].psnr += all.psnr; rerenderSums[row].ssim += all.ssim
            }
            func score(_ predicted: Tensor) {
                var subject = ViewScores(views: views)
                subject.add(predicted, truth, slots: targets + novelRing)
                let (t, r) = (subject.mean(over: targets), subject.mean(over: novelRing))
                targetSums[row].psnr += t.psnr; targetSums[row].ssim += t.ssim
                ringSums[row].psnr += r.psnr; ringSums[row].ssim += r.ssim
                if let encoder = identity?.encoder {
                    func csim(_ views: [Int]) -> Double {
                        let similarities = encoder.csim(predicted.indexSelect(axis: 0, indices: views), truth.indexSelect(axis: 0, indices: views))
                        return similarities.reduce(0, +) / Double(views.count)
                    }
                    targetSums[row].csim! += csim(targets)
                    ringSums[row].csim! += csim(novelRing)
                }
                if let metric = lpips?.metric {
                    func distance(_ views: [Int]) -> Double {
                        metric(predicted.indexSelect(axis: 0, indices: views), truth.indexSelect(axis: 0, indices: views)).reduce(0, +) / Double(views.count)
                    }
                    targetSums[row].lpips! += distance(targets)
                    ringSums[row].lpips! += distance(novelRing)
                }
                row += 1
            }
            for p in pipelines {
                // Every pipeline draws the same noise for a subject (common random numbers), so
                // a row's scores do not depend on which other rows are evaluated, and ablations
                // differ by the model alone.
                var rng = Philox(seed: seed, stream: 0x6576616c).derived(UInt64(sample))
                let started = Date()
                let lift = try p.lifter.lift(portrait, azimuthDegrees: Double(alphaPosition) * OrbitRig.ringStepDegrees,
                                             sampling: sampling, rng: &rng)
                let rendered = HeadLifter.render(lift.gaussians, at: cameras)
                seconds[row] += Date().timeIntervalSince(started)
                scoreRerender(lift.gaussians, inputs: lift.inputs, cameras: lift.cameras)
                score(rendered)
            }
            for u in upperBounds {
                let started = Date()
                let inputs = DiffusionRing.targetSteps.map { ring[(alphaPosition + $0) % ring.count] }
                let inputViews = truth.indexSelect(axis: 0, indices: inputs), inputCameras = inputs.map { cameras[$0] }
                let gaussians = HeadLifter.reconstruct(inputViews, cameras: inputCameras, with: u.model)
                let rendered = HeadLifter.render(gaussians, at: cameras)
                seconds[row] += Date().timeIntervalSince(started)
                scoreRerender(gaussians, inputs: inputViews, cameras: inputCameras)
                score(rendered)
            }
            if let baselines {
                let nearest = baselines.ring.nearest(to: portrait.scalars[...], position: alphaPosition).subject
                score(try baselines.views(of: nearest))
                score(baselines.mean)
                score(portrait.broadcast(to: truth.shape))
            }
            progress?(String(format: "%d/%d %@: %@ %.2f dB over %d target views so far", sample + 1, count, heldOut.subject(sample),
                             names.first ?? "", (targetSums.first?.psnr ?? 0) / Double(sample + 1), targets.count))
        }
        let n = Double(max(count, 1))
        func mean(_ s: Score) -> Score { Score(psnr: s.psnr / n, ssim: s.ssim / n, csim: s.csim.map { $0 / n }, lpips: s.lpips.map { $0 / n }) }
        let rows = names.indices.map { i in
            Row(name: names[i], kind: kinds[i], targetViews: mean(targetSums[i]), novelRingViews: mean(ringSums[i]),
                inputRerender: kinds[i] == "baseline" ? nil : mean(rerenderSums[i]), secondsPerSubject: seconds[i] / n)
        }
        return Report(heldOut: heldOut.folder, train: train?.folder, subjects: count, resolution: h, targetViews: targetCount,
                      condition: condition.rawValue, selectionSeed: selectionSeed, identityEncoder: identity?.name, lpipsWeights: lpips?.name, rows: rows, notes: notes)
    }
}

extension PipelineEvaluation.Report {
    /// FaceLift's own result (its Table, all views of its synthetic test heads at 512²), printed
    /// for scale: other data, other resolution.
    public static let faceLiftReference = (psnr: 16.61, ssim: 0.797)

    /// One Markdown table, FaceLift's form, then the notes.
    public var markdown: String {
        var lines = ["\(subjects) held-out subjects of \(heldOut) (\(resolution)²)" + (train.map { ", baselines from \($0)" } ?? "")
                     + "; condition view drawn `\(condition)` (seed \(selectionSeed)); scored on the \(targetViews) views off the diffusion "
                     + "ring, and on the ring's other 7 views; re-render: the reconstructor's six input views against its Gaussians "
                     + "rendered at their cameras (for a pipeline, how consistent its generated views are).", "",
                     "| row | kind | PSNR | SSIM | CSIM | LPIPS | ring PSNR | ring SSIM | ring CSIM | ring LPIPS | re-render PSNR / SSIM | s / subject |",
                     "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        func csim(_ s: PipelineEvaluation.Score) -> String { s.csim.map { String(format: "%.3f", $0) } ?? "–" }
        func lpips(_ s: PipelineEvaluation.Score) -> String { s.lpips.map { String(format: "%.4f", $0) } ?? "–" }
        for r in rows {
            let rerender = r.inputRerender.map { String(format: "%.2f / %.4f", $0.psnr, $0.ssim) } ?? "–"
            lines.append(String(format: "| %@ | %@ | %.2f | %.4f | %@ | %@ | %.2f | %.4f | %@ | %@ | %@ | %@ |", r.name, r.kind, r.targetViews.psnr,
                                r.targetViews.ssim, csim(r.targetViews), lpips(r.targetViews), r.novelRingViews.psnr, r.novelRingViews.ssim,
                                csim(r.novelRingViews), lpips(r.novelRingViews), rerender,
                                r.secondsPerSubject > 0 ? String(format: "%.1f", r.secondsPerSubject) : "–"))
        }
        let f = Self.faceLiftReference
        lines.append(String(format: "| FaceLift (paper: its own data, 512², for scale only) | reference | %.2f | %.3f | | | | | | | | |", f.psnr, f.ssim))
        if let identityEncoder {
            lines += ["", "CSIM: cosine similarity of the identity encoder \(identityEncoder)'s embeddings of each rendered view and its ground truth."]
        }
        if let lpipsWeights {
            lines += ["", "LPIPS: the lpips package's LPIPS(net='vgg', version='0.1') with the weights of \(lpipsWeights); lower is closer."]
        }
        for note in notes { lines += ["", "Note: " + note] }
        return lines.joined(separator: "\n")
    }
}
