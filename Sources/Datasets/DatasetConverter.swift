import Foundation
import Tensors

/// Render folders → a dataset folder of HDF5 shards plus manifest.json.
///
/// Subjects are sorted by id, split by identity, and cut into shards of `shardSize` (train
/// shards first, then validation). Each shard is written under a temporary name and renamed
/// when complete, carrying a `plan` attribute naming its exact inputs, so a re-run skips
/// finished shards and rebuilds only the rest. The manifest is written last.
public struct DatasetConverter {
    public struct Options: Sendable {
        public var inputs: [String]
        public var output: String
        /// Square output side; nil keeps the first subject's size.
        public var resolution: Int?
        public var shardSize = 64
        public var valFraction = 0.05
        public var splitSeed: UInt64 = 0
        /// zlib level for image chunks (0 = none).
        public var compression = 1
        public var threads = Parallel.threads

        public init(inputs: [String], output: String, resolution: Int? = nil) {
            self.inputs = inputs
            self.output = output
            self.resolution = resolution
        }
    }

    /// Subjects done / total, and whether that shard was skipped as already finished.
    public struct Progress: Sendable {
        public var done: Int
        public var total: Int
        public var seconds: Double
        public var rate: Double { seconds > 0 ? Double(done) / seconds : 0 }
        public var eta: Double { rate > 0 ? Double(total - done) / rate : .infinity }
    }

    public struct Report: Sendable {
        public var manifest: Manifest
        public var shardsWritten: Int
        public var shardsSkipped: Int
    }

    public var options: Options
    public init(_ options: Options) { self.options = options }

    struct PlannedShard {
        var file: String
        var split: String
        var subjects: [RenderSubject]
        var plan: String
    }

    public func run(progress: ((Progress) -> Void)? = nil) throws -> Report {
        let o = options
        guard o.shardSize > 0 else { throw DataError(o.output, "shard size must be positive") }
        guard (0...1).contains(o.valFraction) else { throw DataError(o.output, "validation fraction must be in [0, 1]") }
        guard (0...9).contains(o.compression) else { throw DataError(o.output, "compression must be 0…9") }
        if let r = o.resolution, r < 1 { throw DataError(o.output, "resolution must be positive") }

        let subjects = try RenderFolder.subjects(in: o.inputs)
        guard !subjects.isEmpty else { throw DataError(o.inputs.joined(separator: ", "), "no subjects found (expected <root>/<subject>/opencv_cameras.json)") }
        let (views, native) = try preflight(subjects)
        let size = o.resolution.map { (height: $0, width: $0) } ?? native

        let validation = IdentitySplit.validationIdentities(subjects.map(\.identity), fraction: o.valFraction, seed: o.splitSeed)
        let train = subjects.filter { !validation.contains($0.identity) }
        let val = subjects.filter { validation.contains($0.identity) }
        var planned = [PlannedShard]()
        for (split, list) in [(IdentitySplit.train, train), (IdentitySplit.validation, val)] {
            for start in stride(from: 0, to: list.count, by: o.shardSize) {
                let part = Array(list[start ..< min(start + o.shardSize, list.count)])
                let file = String(format: "shard-%05d.h5", planned.count)
                let plan = planHash(split: split, subjects: part, size: size, views: views)
                planned.append(PlannedShard(file: file, split: split, subjects: part, plan: plan))
            }
        }

        try FileManager.default.createDirectory(atPath: o.output, withIntermediateDirectories: true)
        // The manifest marks a complete dataset: drop it until this run has finished.
        unlink(o.output + "/" + Manifest.fileName)
        try removeStaleFiles(keeping: Set(planned.map(\.file)))

        let clock = Clock.now
        var done = 0
        var shards = [Manifest.Shard](), written = 0, skipped = 0
        for shard in planned {
            let path = o.output + "/" + shard.file
            var checksums: [UInt32]
            if let existing = finishedChecksums(path, plan: shard.plan, samples: shard.subjects.count) {
                checksums = existing
                skipped += 1
                done += shard.subjects.count
                progress?(Progress(done: done, total: subjects.count, seconds: Clock.seconds(since: clock)))
            } else {
                checksums = try write(shard, to: path, size: size, views: views) {
                    done += 1
                    progress?(Progress(done: done, total: subjects.count, seconds: Clock.seconds(since: clock)))
                }
                written += 1
            }
            shards.append(Manifest.Shard(file: shard.file, split: shard.split, samples: shard.subjects.count,
                                         checksums: checksums, subjects: shard.subjects.map(\.id)))
        }

        func summary(_ split: String, _ list: [RenderSubject]) -> Manifest.Split {
            Manifest.Split(samples: list.count, identities: Array(Set(list.map(\.identity))).sorted(),
                           shards: planned.filter { $0.split == split }.map(\.file))
        }
        let manifest = Manifest(height: size.height, width: size.width, views: views, compression: o.compression,
                                shardSize: o.shardSize, valFraction: o.valFraction, splitSeed: o.splitSeed,
                                sources: o.inputs, splits: [IdentitySplit.train: summary(IdentitySplit.train, train),
                                                            IdentitySplit.validation: summary(IdentitySplit.validation, val)],
                                shards: shards)
        try manifest.write(dataset: o.output)
        return Report(manifest: manifest, shardsWritten: written, shardsSkipped: skipped)
    }

    /// Reads every camera file and PNG header before any work, so bad input fails fast and
    /// nothing is written for it. Returns the view count (equal for all subjects) and the first
    /// subject's image size.
    func preflight(_ subjects: [RenderSubject]) throws -> (Int, (height: Int, width: Int)) {
        var views = 0, size = (height: 0, width: 0)
        for subject in subjects {
            let cameras = try CameraFile.read(subject.camerasPath)
            if views == 0 {
                views = cameras.frames.count
                size = (cameras.frames[0].height, cameras.frames[0].width)
            } else if cameras.frames.count != views {
                throw DataError(subject.camerasPath, "\(cameras.frames.count) views, but other subjects have \(views)")
            }
            for (v, frame) in cameras.frames.enumerated() {
                let path = subject.folder + "/" + frame.filePath
                let info = try PNG.info(path)
                guard info.width == frame.width, info.height == frame.height else {
                    throw DataError(path, "image is \(info.width)×\(info.height) but \(subject.camerasPath) frame \(v) says \(frame.width)×\(frame.height)")
                }
            }
        }
        return (views, size)
    }

    /// Decodes the shard's subjects on `threads` workers and writes them; returns the checksums.
    func write(_ shard: PlannedShard, to path: String, size: (height: Int, width: Int), views: Int,
               onSubject: () -> Void) throws -> [UInt32] {
        let writer = try ShardWriter(path: path, samples: shard.subjects.count, views: views, height: size.height,
                                     width: size.width, compression: options.compression, split: shard.split, plan: shard.plan)
        let state = WorkState()
        let workers = max(1, min(options.threads, shard.subjects.count))
        withoutActuallyEscaping(onSubject) { onSubject in
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while let i = state.next(below: shard.subjects.count) {
                    do {
                        let sample = try RenderFolder.load(shard.subjects[i], size: size)
                        try writer.write(sample, at: i)
                        state.locked { onSubject() }
                    } catch {
                        state.fail(error)
                    }
                }
            }
        }
        if let error = state.error {
            writer.abandon()
            throw error
        }
        return try writer.finish()
    }

    /// The checksums of a finished shard made from the same plan, or nil to (re)build it.
    func finishedChecksums(_ path: String, plan: String, samples: Int) -> [UInt32]? {
        guard FileManager.default.fileExists(atPath: path), let reader = try? ShardReader(path),
              reader.plan == plan, reader.samples == samples else { return nil }
        return reader.checksums
    }

    /// Removes temporaries from interrupted runs and shards no longer in the plan.
    func removeStaleFiles(keeping files: Set<String>) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: options.output) {
            let isTemporary = name.hasPrefix(".shard-") && name.contains(".tmp-")
            let isOrphanShard = name.hasPrefix("shard-") && name.hasSuffix(".h5") && !files.contains(name)
            if isTemporary || isOrphanShard { try? FileManager.default.removeItem(atPath: options.output + "/" + name) }
        }
    }

    func planHash(split: String, subjects: [RenderSubject], size: (height: Int, width: Int), views: Int) -> String {
        var text = "relief-shard v\(ShardSchema.version) \(size.height)x\(size.width) views \(views) deflate \(options.compression) \(split)"
        for s in subjects { text += "\n\(s.id)\t\(s.identity)\t\(s.variant)\t\(s.folder)" }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 // FNV-1a 64
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return String(format: "%016llx", h)
    }
}

/// Work distribution and first-error capture for the conversion workers.
private final class WorkState: @unchecked Sendable {
    private let lock = NSLock()
    private var cursor = 0
    private(set) var error: Error?

    func next(below n: Int) -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard error == nil, cursor < n else { return nil }
        cursor += 1
        return cursor - 1
    }

    func fail(_ e: Error) {
        lock.lock(); defer { lock.unlock() }
        if error == nil { error = e }
    }

    func locked(_ body: () -> Void) {
        lock.lock(); defer { lock.unlock() }
        body()
    }
}
