import ArgumentParser
import Checkpoints
import Datasets
import Diffusion
import Foundation
import Identity
import Lifting
import Reconstruction
import Tensors

/// The whole pipeline (and its ablations) on a dataset's held-out identities, beside the
/// baselines and the upper bound: FaceLift's table.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score single-image → 3D pipelines on a dataset's held-out subjects beside the baselines.",
        discussion: """
            Every --pipeline row lifts each held-out subject's condition view (its ring view at α, drawn as \
            `data-tools baselines` draws it) and renders the Gaussians at every camera of the subject; PSNR and \
            SSIM are averaged over the views off the diffusion ring (the 32 at 20° elevation of the pipeline rig) \
            and, apart, over the ring's other views. Each --upper-bound row is a GS-LRM on the six ground-truth \
            diffusion views. Unless --no-baselines, the dataset's training subjects give nearest_subject, \
            mean_head and condition_copy. With --identity, CSIM beside PSNR and SSIM; with --lpips, LPIPS. Writes OUT/metrics.json and \
            OUT/table.md.
            """)

    @Option(help: "A converted dataset with the pipeline rig (data-tools synth --rig pipeline); its held-out split is scored.")
    var dataset: String
    @Option(help: "A pipeline row NAME=LOW[,HIGH]+RECONSTRUCTOR (run or step folders); repeatable.") var pipeline: [String] = []
    @Option(help: "An upper-bound row NAME=RECONSTRUCTOR: the GS-LRM on the ground-truth diffusion views; repeatable.") var upperBound: [String] = []
    @Flag(help: "Leave out the training-set baselines.") var noBaselines = false
    @Option(help: "An identity encoder (model.kind identity run or step folder) to measure CSIM with; use one trained apart from any used for guidance.")
    var identity: String?
    @Option(help: "LPIPS weights: the lpips package's LPIPS(net='vgg') state_dict as safetensors (scripts/peers/export_lpips_weights.py).")
    var lpips: String?
    @Option(help: "How α is drawn: any or front.") var condition: ViewSelection.RingCondition = .any
    @Option(help: "Seed of the α draws (data-tools baselines --seed).") var selectionSeed: UInt64 = 0
    @Option(help: "Score only the first N held-out subjects.") var subjects: Int?
    @OptionGroup var sampler: SamplingOptions
    @Option(help: "Which weights of every model: auto, ema or model.") var weights: WeightsChoice = .auto
    @Option(help: "Output folder.") var out: String

    func run() throws {
        let sampling = try sampler.sampling()
        guard !pipeline.isEmpty || !upperBound.isEmpty else { throw ValidationError("give at least one --pipeline or --upper-bound row") }
        let pipelines = try pipeline.map { row -> PipelineEvaluation.Pipeline in
            let (name, value) = try Self.named(row, option: "--pipeline")
            let parts = value.split(separator: "+", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ValidationError("--pipeline '\(row)': expected NAME=LOW[,HIGH]+RECONSTRUCTOR")
            }
            return .init(name: name, lifter: try LiftCommand.lifter(diffusion: parts[0], reconstructor: parts[1], weights: weights, vae: nil))
        }
        let upperBounds = try upperBound.map { row -> (name: String, model: GSLRM) in
            let (name, run) = try Self.named(row, option: "--upper-bound")
            let source = try CheckpointDirectory.resolve(path: run)
            return (name, try GSLRM.load(try source.safetensors(try weights.file(in: source).name)))
        }
        let heldOut = try ShardedDataset(dataset, split: IdentitySplit.validation)
        let train = noBaselines ? nil : try ShardedDataset(dataset, split: IdentitySplit.train)
        let report = try PipelineEvaluation.run(heldOut: heldOut, train: train, pipelines: pipelines, upperBounds: upperBounds,
                                                condition: condition, selectionSeed: selectionSeed, sampling: sampling, seed: sampler.seed,
                                                subjects: subjects, identity: try identity.map { ($0, try IdentityEncoder.load(path: $0).encoder) },
                                                lpips: try lpips.map { ($0, try LPIPS(weightsFile: $0)) }) { FileHandle.standardError.write(Data(("  " + $0 + "\n").utf8)) }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try encoder.encode(report).write(to: URL(fileURLWithPath: (out as NSString).appendingPathComponent("metrics.json")))
        try (report.markdown + "\n").write(toFile: (out as NSString).appendingPathComponent("table.md"), atomically: true, encoding: .utf8)
        print(report.markdown)
    }

    /// "NAME=VALUE" split at the first '='.
    static func named(_ row: String, option: String) throws -> (String, String) {
        guard let equals = row.firstIndex(of: "="), equals != row.startIndex, row.index(after: equals) != row.endIndex else {
            throw ValidationError("\(option) '\(row)': expected NAME=…")
        }
        return (String(row[..<equals]), String(row[row.index(after: equals)...]))
    }
}
