import ArgumentParser
import Datasets
import Tensors

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Re-reads every sample of a dataset: shapes, checksums, camera sanity, split purity.",
        discussion: "Exits non-zero at the first problem, naming the shard and sample.")

    @Argument(help: "Dataset folder (holding manifest.json).")
    var dataset: String

    func run() throws {
        let meter = ProgressMeter("verify", unit: "samples")
        let start = Clock.now
        let summary = try DatasetVerifier.verify(dataset) { meter.update(done: $0, total: $1) }
        let seconds = Clock.seconds(since: start)
        print(String(format: "ok: %d shards, %d samples, %.1f MB of images checked in %.2f s (%.0f MB/s)",
                     summary.shards, summary.samples, Double(summary.bytes) / 1e6, seconds, Double(summary.bytes) / 1e6 / max(seconds, 1e-9)))
    }
}
