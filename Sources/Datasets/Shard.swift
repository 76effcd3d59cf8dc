import Foundation

/// One HDF5 shard: `samples` subjects with `views` RGBA views each at height × width
/// (schema in data-tools/README.md). Written under a temporary name and renamed when complete.
public enum ShardSchema {
    public static let format = "relief-shard"
    public static let version = 1
}

/// Writes a shard sample by sample (any order, each index once); `finish()` commits it.
/// Thread-safe: `write` may be called from several threads (HDF5 calls are serialised).
public final class ShardWriter: @unchecked Sendable {
    public let path: String
    public let samples: Int, views: Int, height: Int, width: Int
    private let temporary: String
    private let file: HDF5File
    private let images: HDF5Dataset
    private let split: String, plan: String
    private var intrinsics: [Float], w2c: [Float], checksums: [UInt32], viewChecksums: [UInt32]
    private var subjects: [String], identities: [String], variants: [String], metas: [String]
    private var written: [Bool]
    private let lock = NSLock()

    /// `compression`: zlib level 0 (none) … 9 for the image chunks. `plan` identifies what the
    /// shard was made from, so a re-run can recognise a finished shard and skip it.
    public init(path: String, samples: Int, views: Int, height: Int, width: Int, compression: Int,
                split: String, plan: String) throws {
        self.path = path
        self.samples = samples; self.views = views; self.height = height; self.width = width
        self.split = split; self.plan = plan
        temporary = AtomicFile.temporaryPath(for: path)
        file = try HDF5File.create(temporary)
        do {
            images = try file.createDataset("images", type: .uint8, shape: [samples, views, height, width, 4],
                                            chunk: [1, 1, height, width, 4], deflate: compression)
        } catch {
            try? file.close()
            unlink(temporary)
            throw DataError(path, "\(error)")
        }
        intrinsics = [Float](repeating: 0, count: samples * views * 4)
        w2c = [Float](repeating: 0, count: samples * views * 16)
        checksums = [UInt32](repeating: 0, count: samples)
        viewChecksums = [UInt32](repeating: 0, count: samples * views)
        subjects = Array(repeating: "", count: samples)
        identities = subjects; variants = subjects; metas = subjects
        written = Array(repeating: false, count: samples)
    }

    /// Stores `sample` at `index`; returns its CRC-32.
    @discardableResult
    public func write(_ sample: SubjectSample, at index: Int) throws -> UInt32 {
        guard sample.views == views, sample.height == height, sample.width == width else {
            throw DataError(sample.subject.camerasPath,
                            "subject has \(sample.views) views of \(sample.width)×\(sample.height), the dataset \(views) of \(width)×\(height)")
        }
        let crc = CRC32.checksum(sample.rgba)
        let viewBytes = height * width * 4
        let perView = sample.rgba.withUnsafeBytes { all in
            (0..<views).map { CRC32.checksum(UnsafeRawBufferPointer(rebasing: all[$0 * viewBytes ..< ($0 + 1) * viewBytes])) }
        }
        try sample.rgba.withUnsafeBytes { try images.write($0.baseAddress!, type: .uint8, at: [index]) }
        lock.lock()
        defer { lock.unlock() }
        intrinsics.replaceSubrange(index * views * 4 ..< (index + 1) * views * 4, with: sample.intrinsics)
        w2c.replaceSubrange(index * views * 16 ..< (index + 1) * views * 16, with: sample.w2c)
        checksums[index] = crc
        viewChecksums.replaceSubrange(index * views ..< (index + 1) * views, with: perView)
        subjects[index] = sample.subject.id
        identities[index] = sample.subject.identity
        variants[index] = sample.subject.variant
        metas[index] = sample.subject.metaJSON
        written[index] = true
        return crc
    }

    /// Writes cameras, strings and attributes, closes, and renames into place. Returns the checksums.
    public func finish() throws -> [UInt32] {
        do {
            guard written.allSatisfy({ $0 }) else { throw DataError(path, "shard finished with samples missing") }
            let n = samples, v = views
            func store(_ name: String, _ type: HDF5Type, _ shape: [Int], _ bytes: UnsafeRawBufferPointer) throws {
                let ds = try file.createDataset(name, type: type, shape: shape)
                defer { ds.close() }
                try ds.write(bytes.baseAddress!, type: type)
            }
            func store(_ name: String, _ strings: [String]) throws {
                let ds = try file.createDataset(name, type: .string, shape: [n])
                defer { ds.close() }
                try ds.writeStrings(strings)
            }
            images.close()
            try intrinsics.withUnsafeBytes { try store("intrinsics", .float32, [n, v, 4], $0) }
            try w2c.withUnsafeBytes { try store("w2c", .float32, [n, v, 4, 4], $0) }
            try checksums.withUnsafeBytes { try store("checksum", .uint32, [n], $0) }
            try viewChecksums.withUnsafeBytes { try store(ShardReader.viewChecksumDataset, .uint32, [n, v], $0) }
            try store("subject", subjects)
            try store("identity", identities)
            try store("variant", variants)
            try store("meta", metas)
            try file.setAttribute("format", ShardSchema.format)
            try file.setAttribute("schema_version", ShardSchema.version)
            try file.setAttribute("split", split)
            try file.setAttribute("plan", plan)
            try file.setAttribute("samples", n)
            try file.setAttribute("views", v)
            try file.setAttribute("height", height)
            try file.setAttribute("width", width)
            try file.close()
            try AtomicFile.commit(temporary, to: path)
            return checksums
        } catch {
            abandon()
            throw error
        }
    }

    /// Drops the unfinished shard.
    public func abandon() {
        images.close()
        try? file.close()
        unlink(temporary)
    }
}

/// Reads a shard: cameras, checksums and names are loaded at open; images are read per view.
public final class ShardReader: @unchecked Sendable {
    public let path: String
    public let samples: Int, views: Int, height: Int, width: Int
    public let split: String, plan: String
    /// [samples, views, 4] and [samples, views, 16].
    public let intrinsics: [Float], w2c: [Float]
    public let checksums: [UInt32]
    /// CRC-32 of each view's bytes, [samples · views], so a reader of some views can check just
    /// those; nil in shards written before it was added (the loader then checks whole samples).
    public let viewChecksums: [UInt32]?
    static let viewChecksumDataset = "view_checksum"
    public let subjects: [String], identities: [String], variants: [String], metas: [String]
    private let file: HDF5File
    private let images: HDF5Dataset

    public init(_ path: String) throws {
        self.path = path
        let file = try HDF5File.open(path)
        self.file = file
        guard (try? file.stringAttribute("format")) == ShardSchema.format else { throw DataError(path, "not a Relief shard (attribute 'format')") }
        let version = try file.intAttribute("schema_version")
        guard version == ShardSchema.version else { throw DataError(path, "shard schema version \(version), this build reads \(ShardSchema.version)") }
        split = try file.stringAttribute("split")
        plan = try file.stringAttribute("plan")
        samples = try file.intAttribute("samples")
        views = try file.intAttribute("views")
        height = try file.intAttribute("height")
        width = try file.intAttribute("width")
        let (n, v) = (samples, views)
        let images = try file.dataset("images")
        self.images = images
        func expect(_ ds: HDF5Dataset, _ shape: [Int], _ type: String) throws {
            guard ds.shape == shape else { throw DataError(path, "dataset '\(ds.name)' has shape \(ds.shape), expected \(shape)") }
            guard ds.elementDescription == type else { throw DataError(path, "dataset '\(ds.name)' holds \(ds.elementDescription), expected \(type)") }
        }
        try expect(images, [n, v, height, width, 4], "uint8")
        func floats(_ name: String, _ shape: [Int]) throws -> [Float] {
            let ds = try file.dataset(name)
            try expect(ds, shape, "float32")
            var out = [Float](repeating: 0, count: shape.reduce(1, *))
            try out.withUnsafeMutableBytes { try ds.read(into: $0.baseAddress!, type: .float32) }
            return out
        }
        intrinsics = try floats("intrinsics", [n, v, 4])
        w2c = try floats("w2c", [n, v, 4, 4])
        let sums = try file.dataset("checksum")
        try expect(sums, [n], "uint32")
        var c = [UInt32](repeating: 0, count: n)
        try c.withUnsafeMutableBytes { try sums.read(into: $0.baseAddress!, type: .uint32) }
        checksums = c
        if file.hasDataset(Self.viewChecksumDataset) {
            let perView = try file.dataset(Self.viewChecksumDataset)
            try expect(perView, [n, v], "uint32")
            var c = [UInt32](repeating: 0, count: n * v)
            try c.withUnsafeMutableBytes { try perView.read(into: $0.baseAddress!, type: .uint32) }
            viewChecksums = c
        } else {
            viewChecksums = nil
        }
        func strings(_ name: String) throws -> [String] {
            let ds = try file.dataset(name)
            try expect(ds, [n], "string")
            return try ds.readStrings()
        }
        subjects = try strings("subject")
        identities = try strings("identity")
        variants = try strings("variant")
        metas = try strings("meta")
    }

    /// Bytes in one view: height · width · 4.
    public var viewBytes: Int { height * width * 4 }

    /// Reads view `view` of sample `sample` (RGBA8, height × width × 4) into `buffer`.
    public func readView(sample: Int, view: Int, into buffer: UnsafeMutableRawPointer) throws {
        try images.read(into: buffer, type: .uint8, at: [sample, view])
    }

    /// Views `selected` of `sample`, one after another (each height × width × 4), into `buffer`,
    /// each checked against its CRC-32 so damaged bytes never reach training: an error names the
    /// shard, sample, subject and view. Shards without per-view checksums are checked a whole
    /// sample at a time (every view is read).
    public func readCheckedViews(sample: Int, views selected: [Int], into buffer: UnsafeMutableRawPointer) throws {
        let name = "sample \(sample) (subject '\(subjects[sample])')"
        guard let viewChecksums else {
            let all = try readSample(sample)
            let crc = CRC32.checksum(all)
            guard crc == checksums[sample] else {
                throw DataError(path, "\(name): image checksum \(CRC32.hex(crc)) differs from the shard's \(CRC32.hex(checksums[sample])); "
                                + "the shard predates per-view checksums, so the damaged view is not known (re-convert to name it)")
            }
            all.withUnsafeBytes { all in
                for (j, view) in selected.enumerated() {
                    (buffer + j * viewBytes).copyMemory(from: all.baseAddress! + view * viewBytes, byteCount: viewBytes)
                }
            }
            return
        }
        for (j, view) in selected.enumerated() {
            let target = buffer + j * viewBytes
            try readView(sample: sample, view: view, into: target)
            let crc = CRC32.checksum(UnsafeRawBufferPointer(start: target, count: viewBytes))
            let expected = viewChecksums[sample * views + view]
            guard crc == expected else {
                throw DataError(path, "\(name) view \(view): image checksum \(CRC32.hex(crc)) differs from the shard's \(CRC32.hex(expected)); "
                                + "the shard is damaged (data-tools verify checks every sample)")
            }
        }
    }

    /// Every view of `sample`, [views, height, width, 4].
    public func readSample(_ sample: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: views * viewBytes)
        try out.withUnsafeMutableBytes { try images.read(into: $0.baseAddress!, type: .uint8, at: [sample]) }
        return out
    }

    public func close() throws { try file.close() }
}
