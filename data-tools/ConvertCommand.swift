import ArgumentParser
import Datasets
import Tensors

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Render folders (FaceLift layout) → a dataset folder of HDF5 shards plus manifest.json.",
        discussion: """
        Each input is a folder of subjects <root>/<subject>/{opencv_cameras.json, images/cam_XXX.png, meta.json?}
        (or one subject folder itself). Images (8/16-bit gray, gray+alpha, RGB, RGBA, palette) are stored as
        RGBA8, resized with antialiasing to --resolution (intrinsics scaled to match). Subjects are split into
        train/val by meta.json "identity" (else the folder name). Shards appear only when complete; re-running
        skips finished shards. Schema: data-tools/README.md.
        """)

    @Option(name: .long, parsing: .upToNextOption, help: "Render folder(s).")
    var input: [String]

    @Option(name: .long, help: "Dataset folder to write.")
    var out: String

    @Option(name: .long, help: "Square output side in pixels (default: the first subject's size).")
    var resolution: Int?

    @Option(name: .long, help: "Subjects per shard.")
    var shardSize = 64

    @Option(name: .long, help: "Fraction of identities held out for validation.")
    var valFraction = 0.05

    @Option(name: .long, help: "Seed of the identity split.")
    var splitSeed: UInt64 = 0

    @Option(name: .long, help: "zlib level 0…9 for image chunks (0: uncompressed).")
    var compression = 1

    @Option(name: .long, help: "Worker threads (default: all cores).")
    var threads: Int?

    func run() throws {
        var options = DatasetConverter.Options(inputs: input, output: out, resolution: resolution)
        options.shardSize = shardSize
        options.valFraction = valFraction
        options.splitSeed = splitSeed
        options.compression = compression
        if let threads { options.threads = max(1, threads) }
        let meter = ProgressMeter("convert", unit: "subjects")
        let start = Clock.now
        let report = try DatasetConverter(options).run { meter.update(done: $0.done, total: $0.total) }
        let m = report.manifest
        let train = m.splits["train"]?.samples ?? 0, val = m.splits["val"]?.samples ?? 0
        print("wrote \(out): \(train) train + \(val) val subjects, \(m.views) views of \(m.width)×\(m.height), "
              + "\(m.shards.count) shards (\(report.shardsWritten) written, \(report.shardsSkipped) already finished) "
              + "in \(String(format: "%.1f", Clock.seconds(since: start))) s")
    }
}
