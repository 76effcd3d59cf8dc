import Foundation
import Tensors

/// Random access to one split of a dataset folder: sample i of the split, in manifest order,
/// across its shards. Cameras and names are held in memory; images are read per view on demand.
public final class ShardedDataset: @unchecked Sendable {
    public let folder: String
    public let split: String
    public let manifest: Manifest
    public let shards: [ShardReader]
    /// First split-wide index of each shard, plus the total at the end.
    private let offsets: [Int]

    public var count: Int { offsets.last ?? 0 }
    public var views: Int { manifest.views }
    public var height: Int { manifest.height }
    public var width: Int { manifest.width }

    public init(_ folder: String, split: String = IdentitySplit.train) throws {
        self.folder = folder
        self.split = split
        manifest = try Manifest.read(dataset: folder)
        var readers = [ShardReader](), offsets = [0]
        for entry in manifest.shards(of: split) {
            let path = folder + "/" + entry.file
            let reader = try ShardReader(path)
            guard reader.samples == entry.samples, reader.views == manifest.views,
                  reader.height == manifest.height, reader.width == manifest.width else {
                throw DataError(path, "shard shape (\(reader.samples) samples, \(reader.views) views, \(reader.width)×\(reader.height)) disagrees with the manifest")
            }
            readers.append(reader)
            offsets.append(offsets.last! + reader.samples)
        }
        guard offsets.last! > 0 else {
            throw DataError(folder + "/" + Manifest.fileName, "split '\(split)' has no samples")
        }
        shards = readers
        self.offsets = offsets
    }

    /// (shard, index within it) of split-wide sample `i`.
    public func locate(_ i: Int) -> (shard: ShardReader, index: Int) {
        check(i >= 0 && i < count, "sample \(i) outside 0..<\(count)")
        var lo = 0, hi = shards.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if offsets[mid] <= i { lo = mid } else { hi = mid - 1 }
        }
        return (shards[lo], i - offsets[lo])
    }

    /// Reads view `view` of sample `i` (RGBA8, height × width × 4) into `buffer`.
    public func readView(_ i: Int, view: Int, into buffer: UnsafeMutableRawPointer) throws {
        let (shard, j) = locate(i)
        try shard.readView(sample: j, view: view, into: buffer)
    }

    /// Views `views` of sample `i`, one after another, checked against their checksums
    /// (`ShardReader.readCheckedViews`): what training reads.
    public func readCheckedViews(_ i: Int, views: [Int], into buffer: UnsafeMutableRawPointer) throws {
        let (shard, j) = locate(i)
        try shard.readCheckedViews(sample: j, views: views, into: buffer)
    }

    /// fx, fy, cx, cy of each view of sample `i`, [views · 4].
    public func intrinsics(_ i: Int) -> ArraySlice<Float> {
        let (shard, j) = locate(i)
        return shard.intrinsics[j * views * 4 ..< (j + 1) * views * 4]
    }

    /// Row-major w2c of each view of sample `i`, [views · 16].
    public func w2c(_ i: Int) -> ArraySlice<Float> {
        let (shard, j) = locate(i)
        return shard.w2c[j * views * 16 ..< (j + 1) * views * 16]
    }

    public func subject(_ i: Int) -> String { let (s, j) = locate(i); return s.subjects[j] }
    public func identity(_ i: Int) -> String { let (s, j) = locate(i); return s.identities[j] }
}
