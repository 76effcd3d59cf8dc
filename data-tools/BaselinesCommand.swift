import ArgumentParser
import Datasets
import Foundation

extension ViewSelection.RingCondition: ExpressibleByArgument {}

/// `data-tools baselines`: the simple predictors the multi-view diffusion model is compared with
/// (`DiffusionBaselines`), on a dataset's held-out identities.
struct BaselinesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baselines",
        abstract: "Scores the multi-view diffusion baselines (nearest training subject, mean head, condition copied) on held-out subjects.",
        discussion: """
            For every subject of the held-out split, a condition view at azimuth α is drawn as training draws it \
            (the ring view selection, epoch 0, --seed) and the six targets α + {0, 45, 90, 180, 270, 315}° are \
            predicted from the training split. PSNR and SSIM on white, per view, view 0 apart from the novel views.
            """)

    @Option(help: "Dataset whose training split is the retrieval bank and the mean.")
    var train: String

    @Option(help: "Dataset whose held-out (val) split is scored (default: --train's).")
    var val: String?

    @Option(help: "How α is drawn: any (one of the 8 ring azimuths) or front (azimuth 0).")
    var condition: ViewSelection.RingCondition = .any

    @Flag(inversion: .prefixedNo, help: "Target 0 is the input camera (default); --no-reconstruct-input scores the ablation's six novel views α + {45, 90, 135, 180, 270, 315}°.")
    var reconstructInput = true

    @Option(help: "Seed of the α draws (as the training recipe's seed).")
    var seed: UInt64 = 0

    @Option(help: "Write the report as JSON here too.")
    var out: String?

    func run() throws {
        let trainSet = try ShardedDataset(train, split: IdentitySplit.train)
        let heldOut = try ShardedDataset(val ?? train, split: IdentitySplit.validation)
        let report = try DiffusionBaselines.run(train: trainSet, heldOut: heldOut, condition: condition,
                                                reconstructInput: reconstructInput, seed: seed) { done, total in
            if done == total || done % 10 == 0 { FileHandle.standardError.write(Data("  \(done)/\(total) held-out subjects\n".utf8)) }
        }
        print(report.markdown)
        if let out {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(report), to: out)
        }
    }
}
