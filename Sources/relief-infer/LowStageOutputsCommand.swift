import ArgumentParser
import Checkpoints
import Datasets
import Diffusion
import Foundation
import Splatting
import Tensors

/// The low stage run on every subject of a dataset split from each of its eight ring views: the
/// real stage-1 outputs the high stage trains on (`model.low_resolution: generated`).
struct LowStageOutputsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "low-stage-outputs",
        abstract: "Generate the low stage's views for every subject and ring azimuth of a dataset split (the high stage's j̄).",
        discussion: """
            For each subject of --split and each of its 8 ring views (0°, 45°, …, 315°, 0° elevation), the low stage \
            generates its views from that view (resized to the low stage's size). Writes one safetensors file: \
            `views` [subjects, 8, V, 3, s, s] in [0, 1], with the dataset, the subject ids, the low-stage weights \
            (path, SHA-256) and the sampling in its metadata. A high-stage recipe reads it with \
            model.low_resolution: generated and model.low_resolution_outputs: FILE.
            """)

    @Option(help: "The low stage: a model.kind mvdiffusion run or step folder.") var checkpoint: String
    @Option(help: "A converted ring dataset whose subjects are run (the high stage's training data).") var dataset: String
    @Option(help: "Which split: train or val.") var split: String = IdentitySplit.train
    @OptionGroup var sampler: SamplingOptions
    @Option(help: "Subjects generated together (memory against speed).") var batch: Int = 8
    @Option(help: "Which weights: auto, ema or model.") var weights: WeightsChoice = .auto
    @Option(help: "Where the frozen VAE lives now, if it moved.") var vae: String?
    @Option(help: "Output safetensors file.") var out: String

    func run() throws {
        let sampling = try sampler.sampling()
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        let pipeline = try GenerateCommand.pipeline(low: checkpoint, high: nil, weights: weights, vae: vae)
        let (_, weightsFile) = try GenerateCommand.load(checkpoint, option: "--checkpoint", weights: weights)
        let data = try ShardedDataset(dataset, split: split)
        let ring = try DiffusionBaselines.RingImages(data)
        let (h, w, s, v, positions) = (ring.height, ring.width, pipeline.imageSize, pipeline.views, LowStageOutputs.ringPositions)
        let views = Tensor(uninitializedShape: [ring.subjects, positions, v, 3, s, s])
        var rng = Philox(seed: sampler.seed, stream: 0x6c6f77)
        let started = Date()
        var first = 0
        while first < ring.subjects {
            let subjects = first..<min(first + batch, ring.subjects)
            let portraits = Tensor(subjects.flatMap { subject in (0..<positions).flatMap { Array(ring.view(subject, $0)) } },
                                   shape: [subjects.count * positions, 3, h, w])
            let generated = try pipeline.generate(portraits, sampling: sampling, rng: &rng).views
            generated.withUnsafeBufferPointer { source in
                (views.storage.base + first * positions * v * 3 * s * s).update(from: source.baseAddress!, count: source.count)
            }
            first = subjects.upperBound
            let elapsed = Date().timeIntervalSince(started)
            FileHandle.standardError.write(Data(String(format: "  %d/%d subjects, %.0f s (%.0f s left)\n", first, ring.subjects, elapsed,
                                                       elapsed / Double(first) * Double(ring.subjects - first)).utf8))
        }
        let outputs = LowStageOutputs(
            views: views, subjects: (0..<data.count).map(data.subject), dataset: URL(fileURLWithPath: dataset).standardizedFileURL.path,
            split: split, viewAzimuthsDegrees: pipeline.viewAzimuthsDegrees,
            lowStage: try CheckpointReference(checkpoint: try CheckpointDirectory.resolve(path: checkpoint),
                                              file: URL(fileURLWithPath: weightsFile.path).lastPathComponent),
            sampling: sampler.summary)
        try outputs.write(to: out)
        print("\(out): \(ring.subjects) subjects × \(positions) ring views × \(v) generated views at \(s)² "
              + String(format: "in %.0f s", Date().timeIntervalSince(started)))
    }
}
