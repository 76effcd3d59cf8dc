import ArgumentParser
import Datasets
import Diffusion
import Foundation
import Identity
import Tensors

extension ViewSelection.RingCondition: ExpressibleByArgument {}

/// The multi-view diffusion model (one or both stages) scored on a ring dataset's held-out
/// subjects exactly as `data-tools baselines` scores its baselines: the condition view at α drawn
/// by the ring selection (epoch 0, `--selection-seed`), the six targets composited on white,
/// PSNR/SSIM per view, view 0 apart from the novel views; with `--identity`, CSIM per view too.
/// With `--high`, the low stage's views upsampled are scored too (what the high stage adds).
struct EvaluateViewsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate-views",
        abstract: "Score a multi-view diffusion model's generated views on a dataset's held-out subjects.",
        discussion: """
            Writes OUT/metrics.json (per view and averaged: PSNR, SSIM, and CSIM with --identity; `low_upsampled` \
            beside the final stage when --high is given; seconds per subject) and OUT/sheets.png (condition | generated | ground truth, \
            the first 8 subjects). The dataset's views must have the final stage's size.
            """)

    @Option(help: "The low (or only) stage: a model.kind mvdiffusion run or step folder.") var checkpoint: String
    @Option(help: "The high stage, a run or step folder.") var high: String?
    @Option(help: "A converted ring dataset (data-tools convert); its held-out split is scored.") var dataset: String
    @Option(help: "How α is drawn: any or front (as the baselines).") var condition: ViewSelection.RingCondition = .any
    @Option(help: "Seed of the α draws (data-tools baselines --seed).") var selectionSeed: UInt64 = 0
    @Option(help: "Score only the first N held-out subjects.") var subjects: Int?
    @OptionGroup var sampler: SamplingOptions
    @Option(help: "Which weights: auto, ema or model.") var weights: WeightsChoice = .auto
    @Option(help: "Where the frozen VAE lives now, if it moved.") var vae: String?
    @Option(help: "An identity encoder (model.kind identity run or step folder) to measure CSIM with; use one trained apart from any used for guidance.")
    var identity: String?
    @Option(help: "Output folder.") var out: String

    func run() throws {
        let sampling = try sampler.sampling()
        let pipeline = try GenerateCommand.pipeline(low: checkpoint, high: high, weights: weights, vae: vae)
        let encoder = try identity.map { try IdentityEncoder.load(path: $0).encoder }
        let heldOut = try ShardedDataset(dataset, split: IdentitySplit.validation)
        let size = pipeline.imageSize
        guard heldOut.width == size, heldOut.height == size else {
            throw ValidationError("--dataset \(dataset) holds \(heldOut.width)×\(heldOut.height) views; the model generates \(size)²")
        }
        let reconstructInput = pipeline.viewAzimuthsDegrees.first == 0
        let assembler = BatchAssembler(dataset: heldOut, selection: .ring(condition: condition, reconstructInput: reconstructInput),
                                       background: .white, seed: selectionSeed)
        let count = min(subjects ?? heldOut.count, heldOut.count)
        let v = pipeline.views
        var final = ViewScores(views: v), lowUpsampled = ViewScores(views: v), rows: [[Tensor]] = [], seconds: [Double] = []
        var csimSums = [Double](repeating: 0, count: v)
        var scratch = [UInt8]()
        var rng = Philox(seed: sampler.seed, stream: 0x65766c)
        for sample in 0..<count {
            let batch = try assembler.assemble([sample], cursor: .init(), next: .init(), scratch: &scratch)
            let images = batch.images.reshaped([v + 1, 3, size, size])
            let portrait = images.sliced(axis: 0, range: 0..<1), targets = images.sliced(axis: 0, range: 1..<(v + 1))
            let output = try pipeline.generate(portrait, sampling: sampling, rng: &rng)
            seconds.append(output.lowSeconds + output.highSeconds)
            final.add(output.views, targets)
            if let encoder { for (k, c) in encoder.csim(output.views, targets).enumerated() { csimSums[k] += c } }
            if pipeline.high != nil {
                lowUpsampled.add(clamp(output.lowViews.resizedBilinear(height: size, width: size), min: 0, max: 1), targets)
            }
            if rows.count < 8 { rows.append([item(portrait, 0)] + (0..<v).map { item(output.views, $0) } + (0..<v).map { item(targets, $0) }) }
            FileHandle.standardError.write(Data(String(format: "  %d/%d: novel PSNR %.2f dB so far\n", sample + 1, count,
                                                       final.novel(reconstructInput).psnr).utf8))
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try ImageGrid.write(rows, to: (out as NSString).appendingPathComponent("sheets.png"))
        var report: [String: Any] = sampler.report.merging([
            "checkpoint": checkpoint, "high": high ?? NSNull(), "dataset": dataset, "held_out_subjects": count,
            "condition": condition.rawValue, "selection_seed": selectionSeed, "resolution": size,
            "target_offsets_degrees": pipeline.viewAzimuthsDegrees, "seconds_per_subject": seconds.reduce(0, +) / Double(max(count, 1)),
            "final": final.report(reconstructInput),
        ]) { $1 }
        if pipeline.high != nil { report["low_upsampled"] = lowUpsampled.report(reconstructInput) }
        let csim = csimSums.map { $0 / Double(max(count, 1)) }
        let novelSlots = ViewScores.novelSlots(views: v, reconstructInput: reconstructInput)
        let novelCSIM = novelSlots.map { csim[$0] }.reduce(0, +) / Double(novelSlots.count)
        if let identity {
            report["csim"] = ["encoder": identity, "per_view": csim, "novel_views": novelCSIM] as [String: Any]
        }
        try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
            .write(to: URL(fileURLWithPath: (out as NSString).appendingPathComponent("metrics.json")))
        let novel = final.novel(reconstructInput)
        print(String(format: "%@: %d held-out subjects; novel views PSNR %.2f dB, SSIM %.4f", out, count, novel.psnr, novel.ssim)
              + (identity != nil ? String(format: ", CSIM %.3f", novelCSIM) : "")
              + (reconstructInput ? String(format: "; input view PSNR %.2f dB, SSIM %.4f", final.mean(0).psnr, final.mean(0).ssim) : "")
              + (pipeline.high != nil ? String(format: "; low stage upsampled: novel %.2f dB", lowUpsampled.novel(reconstructInput).psnr) : ""))
    }
}

extension ViewScores {
    /// The views not at the input camera (all but view 0 when the model reconstructs its input).
    static func novelSlots(views: Int, reconstructInput: Bool) -> [Int] { reconstructInput ? Array(1..<views) : Array(0..<views) }

    func novel(_ reconstructInput: Bool) -> (psnr: Double, ssim: Double) {
        mean(over: Self.novelSlots(views: views, reconstructInput: reconstructInput))
    }

    func report(_ reconstructInput: Bool) -> [String: Any] {
        var out: [String: Any] = ["per_view": (0..<views).map { ["psnr": mean($0).psnr, "ssim": mean($0).ssim] },
                                  "novel_views": ["psnr": novel(reconstructInput).psnr, "ssim": novel(reconstructInput).ssim]]
        if reconstructInput { out["input_view"] = ["psnr": mean(0).psnr, "ssim": mean(0).ssim] }
        return out
    }
}
