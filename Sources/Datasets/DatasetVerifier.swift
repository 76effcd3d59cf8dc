import Foundation

/// Re-reads every sample of a dataset and checks it against its shard and the manifest:
/// shard attributes and shapes, CRC-32 of the image bytes (shard and manifest), camera sanity,
/// and that no identity appears in both splits. Throws at the first problem, naming the shard
/// and sample.
public enum DatasetVerifier {
    public struct Summary: Sendable {
        public var shards = 0
        public var samples = 0
        public var bytes = 0
    }

    public static func verify(_ folder: String, progress: ((Int, Int) -> Void)? = nil) throws -> Summary {
        let manifest = try Manifest.read(dataset: folder)
        let total = manifest.shards.reduce(0) { $0 + $1.samples }
        var summary = Summary()
        var identitySplit = [String: String]()
        for entry in manifest.shards {
            let path = folder + "/" + entry.file
            let shard = try ShardReader(path)
            guard shard.split == entry.split else { throw DataError(path, "shard says split '\(shard.split)', manifest says '\(entry.split)'") }
            guard shard.samples == entry.samples, entry.checksums.count == entry.samples, entry.subjects.count == entry.samples else {
                throw DataError(path, "shard holds \(shard.samples) samples, manifest lists \(entry.samples)")
            }
            guard shard.views == manifest.views, shard.height == manifest.height, shard.width == manifest.width else {
                throw DataError(path, "shard is \(shard.views) views of \(shard.width)×\(shard.height), manifest says \(manifest.views) of \(manifest.width)×\(manifest.height)")
            }
            var buffer = [UInt8](repeating: 0, count: shard.views * shard.viewBytes)
            for i in 0..<shard.samples {
                let name = "sample \(i) (subject '\(shard.subjects[i])')"
                do {
                    try buffer.withUnsafeMutableBytes { b in
                        for v in 0..<shard.views { try shard.readView(sample: i, view: v, into: b.baseAddress! + v * shard.viewBytes) }
                    }
                } catch {
                    throw DataError(path, "\(name): cannot read images (\(error))")
                }
                if let perView = shard.viewChecksums {
                    for v in 0..<shard.views {
                        let crc = buffer.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[v * shard.viewBytes ..< (v + 1) * shard.viewBytes])) }
                        guard crc == perView[i * shard.views + v] else {
                            throw DataError(path, "\(name) view \(v): image checksum \(hex(crc)) differs from the shard's \(hex(perView[i * shard.views + v]))")
                        }
                    }
                }
                let crc = CRC32.checksum(buffer)
                guard crc == shard.checksums[i] else { throw DataError(path, "\(name): image checksum \(hex(crc)) differs from the shard's \(hex(shard.checksums[i]))") }
                guard crc == entry.checksums[i] else { throw DataError(path, "\(name): image checksum \(hex(crc)) differs from the manifest's \(hex(entry.checksums[i]))") }
                guard shard.subjects[i] == entry.subjects[i] else { throw DataError(path, "\(name): manifest names subject '\(entry.subjects[i])'") }
                for v in 0..<shard.views {
                    let k = (i * shard.views + v)
                    if let problem = CameraFrame.sanityProblem(intrinsics: shard.intrinsics[k * 4 ..< k * 4 + 4],
                                                               w2c: shard.w2c[k * 16 ..< k * 16 + 16],
                                                               width: shard.width, height: shard.height) {
                        throw DataError(path, "\(name) view \(v): \(problem)")
                    }
                }
                let identity = shard.identities[i]
                if let other = identitySplit[identity], other != shard.split {
                    throw DataError(path, "\(name): identity '\(identity)' appears in both '\(other)' and '\(shard.split)'")
                }
                identitySplit[identity] = shard.split
                summary.samples += 1
                summary.bytes += buffer.count
                progress?(summary.samples, total)
            }
            summary.shards += 1
        }
        return summary
    }

    static func hex(_ v: UInt32) -> String { CRC32.hex(v) }
}
