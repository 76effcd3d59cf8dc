import Foundation

/// `manifest.json`, the dataset's table of contents (keys in snake_case; see data-tools/README.md).
public struct Manifest: Codable, Sendable, Equatable {
    public static let fileName = "manifest.json"
    public static let currentVersion = 1

    public struct Shard: Codable, Sendable, Equatable {
        public var file: String
        public var split: String
        public var samples: Int
        /// CRC-32 of each sample's image bytes, in shard order.
        public var checksums: [UInt32]
        public var subjects: [String]
    }

    public struct Split: Codable, Sendable, Equatable {
        public var samples: Int
        public var identities: [String]
        public var shards: [String]
    }

    public var format = "relief-dataset"
    public var schemaVersion = Manifest.currentVersion
    public var height: Int
    public var width: Int
    public var views: Int
    public var channels = 4
    public var compression: Int
    public var shardSize: Int
    public var valFraction: Double
    public var splitSeed: UInt64
    public var sources: [String]
    public var splits: [String: Split]
    public var shards: [Shard]

    public static func read(dataset folder: String) throws -> Manifest {
        let path = folder + "/" + fileName
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError(path, "missing manifest (is this a dataset folder?)") }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let manifest: Manifest
        do { manifest = try decoder.decode(Manifest.self, from: data) } catch {
            throw DataError(path, "malformed manifest: \(error)")
        }
        guard manifest.format == "relief-dataset" else { throw DataError(path, "not a Relief dataset manifest") }
        guard manifest.schemaVersion == currentVersion else {
            throw DataError(path, "schema version \(manifest.schemaVersion), this build reads \(currentVersion)")
        }
        return manifest
    }

    public func write(dataset folder: String) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: folder + "/" + Manifest.fileName)
    }

    /// Shards of `split` in order.
    public func shards(of split: String) -> [Shard] { shards.filter { $0.split == split } }
}
