/// Averages a flat gradient buffer over ranks in buckets, so communication of the gradients that
/// are finished overlaps the backward pass still computing the rest.
///
/// Buckets are plain slices of the buffer (no packing copies), numbered from the END of the
/// buffer: backward produces the last layers' gradients first, so bucket 0 is usually ready
/// first. Every rank launches buckets strictly in bucket order — a bucket whose turn has not come
/// waits even if it is ready — because MPI requires collectives in the same order on every rank,
/// while the order in which gradients finish may differ between ranks.
///
/// One step: `markReady` each gradient range once as it is final (or `startBucket` explicitly),
/// then `finish()`, which launches what is left, waits and divides by the world size. The
/// buffer must stay alive and unchanged in launched buckets until `finish()` returns.
public final class GradientBucketer {
    public let communicator: any Communicator
    public let buffer: UnsafeMutableBufferPointer<Float>
    /// Element ranges in launch order (bucket 0 is the tail of the buffer).
    public let buckets: [Range<Int>]
    public static let defaultBucketBytes = 25 << 20
    /// Non-blocking reductions overlapping backward; when false each bucket is reduced with a
    /// blocking allreduce at launch. Open MPI's non-blocking collectives (libnbc) are slower than
    /// its tuned blocking ones, and with one rank per core there is no idle core to overlap on.
    public let overlap: Bool

    private var readyCounts: [Int]
    private var launched = 0
    private var pending: [PendingReduction?]

    public var count: Int { buffer.count }

    public init(buffer: UnsafeMutableBufferPointer<Float>, bucketBytes: Int = GradientBucketer.defaultBucketBytes,
                overlap: Bool = true, communicator: any Communicator) {
        guard bucketBytes >= MemoryLayout<Float>.stride else { fatalError("GradientBucketer: bucketBytes \(bucketBytes) must hold at least one Float") }
        self.communicator = communicator
        self.overlap = overlap
        self.buffer = buffer
        buckets = Self.layout(count: buffer.count, bucketElements: bucketBytes / MemoryLayout<Float>.stride)
        readyCounts = Array(repeating: 0, count: buckets.count)
        pending = Array(repeating: nil, count: buckets.count)
    }

    /// Slices of `bucketElements` from the end; the front bucket takes the remainder.
    public static func layout(count: Int, bucketElements: Int) -> [Range<Int>] {
        stride(from: count, to: 0, by: -bucketElements).map { end in max(0, end - bucketElements)..<end }
    }

    /// Records that `range` of the buffer holds this rank's final gradient; launches every
    /// bucket whose turn has come and is complete. Each element is marked once per step.
    public func markReady(_ range: Range<Int>) throws {
        guard range.lowerBound >= 0 && range.upperBound <= count else {
            fatalError("GradientBucketer.markReady: range \(range) outside the gradient buffer of \(count)")
        }
        guard !range.isEmpty else { return }
        // Buckets are contiguous from the end: find the overlapped ones directly.
        let width = buckets.first.map { $0.count } ?? 1
        let first = (count - range.upperBound) / width
        let last = min(buckets.count - 1, (count - 1 - range.lowerBound) / width)
        for b in first...last {
            let overlap = range.clamped(to: buckets[b]).count
            readyCounts[b] += overlap
            guard readyCounts[b] <= buckets[b].count else { fatalError("GradientBucketer: gradient range \(range) marked ready twice in one step") }
        }
        while launched < buckets.count && readyCounts[launched] == buckets[launched].count {
            try launch(launched)
        }
        try progress()
    }

    /// Launches bucket `index` now, with every earlier bucket not yet launched (order is kept).
    public func startBucket(_ index: Int) throws {
        guard index >= 0 && index < buckets.count else { fatalError("GradientBucketer.startBucket: bucket \(index) of \(buckets.count)") }
        while launched <= index { try launch(launched) }
    }

    /// Launches the remaining buckets, waits for all, and leaves the buffer holding the mean over
    /// ranks — or the sum with `average: false`, for a caller that folds 1/size into a pass it
    /// makes anyway (the optimizer's), saving one sweep over the buffer. Resets for the next step.
    public func finish(average: Bool = true) throws {
        while launched < buckets.count { try launch(launched) }
        for b in 0..<buckets.count {
            try pending[b]?.wait()
            pending[b] = nil
            if average { divide(UnsafeMutableBufferPointer(rebasing: buffer[buckets[b]]), by: communicator.size) }
        }
        readyCounts = Array(repeating: 0, count: buckets.count)
        launched = 0
    }

    private func launch(_ b: Int) throws {
        let slice = UnsafeMutableBufferPointer(rebasing: buffer[buckets[b]])
        if overlap { pending[b] = try communicator.startAllreduceSum(slice) } else { try communicator.allreduceSum(slice) }
        launched = b + 1
    }

    /// Lets MPI advance launched reductions (it only progresses inside MPI calls).
    private func progress() throws {
        for b in 0..<launched {
            if let p = pending[b], try p.test() { pending[b] = nil }
        }
    }
}
