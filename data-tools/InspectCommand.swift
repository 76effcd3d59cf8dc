import ArgumentParser
import Datasets
import Foundation

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Prints a dataset's summary: size, views, splits, shards, cameras.")

    @Argument(help: "Dataset folder (holding manifest.json).")
    var dataset: String

    @Flag(name: .long, help: "List every shard.")
    var shards = false

    @Option(name: .long, help: "Print the first N samples of the training split with their cameras.")
    var samples = 0

    @Option(name: .long, help: "Print only the subject ids of this split (train or val), one per line, for scripts.")
    var subjects: String?

    func run() throws {
        let m = try Manifest.read(dataset: dataset)
        if let split = subjects {
            guard m.splits[split] != nil else {
                throw ValidationError("\(dataset): no split '\(split)' (it has \(m.splits.keys.sorted().joined(separator: ", ")))")
            }
            for shard in m.shards where shard.split == split { shard.subjects.forEach { print($0) } }
            return
        }
        var bytes = 0
        for shard in m.shards {
            let size = (try? FileManager.default.attributesOfItem(atPath: dataset + "/" + shard.file)[.size] as? Int) ?? nil
            bytes += size ?? 0
        }
        let raw = m.shards.reduce(0) { $0 + $1.samples } * m.views * m.height * m.width * 4
        print("dataset      \(dataset)  (schema \(m.schemaVersion))")
        print("images       \(m.views) views × \(m.width)×\(m.height) RGBA8 per subject")
        print(String(format: "storage      %d shards, %.1f MB on disk (%.1f MB raw, deflate level %d)",
                     m.shards.count, Double(bytes) / 1e6, Double(raw) / 1e6, m.compression))
        for name in m.splits.keys.sorted() {
            let s = m.splits[name]!
            print("split \(name.padding(toLength: 6, withPad: " ", startingAt: 0)) \(s.samples) subjects, \(s.identities.count) identities, \(s.shards.count) shards")
        }
        print("sources      \(m.sources.joined(separator: ", "))")
        if shards {
            for s in m.shards {
                print("  \(s.file)  \(s.split)  \(s.samples) samples  \(s.subjects.first ?? "")…\(s.subjects.last ?? "")")
            }
        }
        if samples > 0 {
            let data = try ShardedDataset(dataset, split: "train")
            for i in 0..<min(samples, data.count) {
                let k = Array(data.intrinsics(i).prefix(4))
                let centre = CameraFrame.centre(w2c: data.w2c(i).prefix(16))
                let radius = (centre * centre).sum().squareRoot()
                let fov = 2 * atan(Float(data.height) / 2 / k[1]) * 180 / .pi
                print(String(format: "  #%d %@ (identity %@): view 0 fx %.1f fy %.1f cx %.1f cy %.1f, distance %.2f, vertical FOV %.1f°",
                             i, data.subject(i), data.identity(i), k[0], k[1], k[2], k[3], radius, fov))
            }
        }
    }
}
