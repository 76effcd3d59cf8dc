import Tensors

/// Which samples each rank sees, step by step.
///
/// Each epoch is one permutation of 0..<count (shuffled with a Philox stream seeded by
/// seed + epoch, or identity order without shuffle). Step s covers the global slice
/// perm[s·W·B ..< (s+1)·W·B] (W ranks, B per-rank batch size); rank r takes its r-th of W
/// near-equal parts. So every sample is seen exactly once per epoch across ranks, all ranks run
/// the same number of steps, and only the last step of an epoch can be short (empty on a rank
/// when fewer samples than ranks remain). The position is a `Cursor` (epoch, step): saving it
/// and restarting from it continues exactly where the run stopped.
public struct DistributedSampler: Sendable {
    public struct Cursor: Codable, Sendable, Equatable, Comparable {
        public var epoch: Int
        public var step: Int
        public init(epoch: Int = 0, step: Int = 0) { self.epoch = epoch; self.step = step }
        public static func < (a: Cursor, b: Cursor) -> Bool { (a.epoch, a.step) < (b.epoch, b.step) }
    }

    public let count: Int
    public let rank: Int
    public let worldSize: Int
    public let batchSize: Int
    public let shuffle: Bool
    public let seed: UInt64
    public private(set) var cursor: Cursor
    private var permutation: [Int] = []
    private var permutationEpoch = -1

    public init(count: Int, rank: Int = 0, worldSize: Int = 1, batchSize: Int, shuffle: Bool = true, seed: UInt64 = 0,
                cursor: Cursor = Cursor()) {
        check(count > 0, "DistributedSampler: the dataset is empty")
        check(worldSize > 0 && rank >= 0 && rank < worldSize, "DistributedSampler: rank \(rank) outside world of \(worldSize)")
        check(batchSize > 0, "DistributedSampler: batch size must be positive")
        self.count = count
        self.rank = rank
        self.worldSize = worldSize
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.cursor = cursor
    }

    /// Steps per epoch, equal on every rank.
    public var stepsPerEpoch: Int { (count + worldSize * batchSize - 1) / (worldSize * batchSize) }

    /// The epoch's order of all samples (same on every rank).
    public static func permutation(count: Int, epoch: Int, shuffle: Bool, seed: UInt64) -> [Int] {
        var p = Array(0..<count)
        guard shuffle else { return p }
        var rng = Philox(seed: seed &+ UInt64(epoch), stream: 0x5A3_1E5)
        for i in stride(from: count - 1, to: 0, by: -1) { p.swapAt(i, rng.int(below: i + 1)) }
        return p
    }

    /// This rank's samples at `cursor`.
    public mutating func indices(at cursor: Cursor) -> [Int] {
        if permutationEpoch != cursor.epoch {
            permutation = DistributedSampler.permutation(count: count, epoch: cursor.epoch, shuffle: shuffle, seed: seed)
            permutationEpoch = cursor.epoch
        }
        let start = cursor.step * worldSize * batchSize
        let global = min(count, start + worldSize * batchSize) - start
        let lo = start + global * rank / worldSize, hi = start + global * (rank + 1) / worldSize
        return Array(permutation[lo..<hi])
    }

    /// This rank's next batch of sample indices and the cursor it was drawn at; advances.
    public mutating func next() -> (cursor: Cursor, indices: [Int]) {
        let at = cursor
        let result = indices(at: at)
        cursor.step += 1
        if cursor.step == stepsPerEpoch { cursor = Cursor(epoch: cursor.epoch + 1, step: 0) }
        return (at, result)
    }

    /// Moves to `cursor` (e.g. restored from a checkpoint).
    public mutating func seek(to cursor: Cursor) {
        check(cursor.step >= 0 && cursor.step < stepsPerEpoch && cursor.epoch >= 0, "DistributedSampler: cursor \(cursor) out of range")
        self.cursor = cursor
    }
}
