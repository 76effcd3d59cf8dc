import Foundation
import Tensors

/// One batch, ready for a model. B samples, V selected views, H × W pixels:
/// - `images` [B, V, 3, H, W]: RGB in [0, 1], composited over the background (c·α + bg·(1−α));
/// - `alpha`  [B, V, 1, H, W] in [0, 1];
/// - `intrinsics` [B, V, 4]: fx, fy, cx, cy in pixels (pixel centres at +0.5);
/// - `w2c` [B, V, 4, 4]: OpenCV world-to-camera;
/// - `background` [B, 3]: the colour used per sample.
/// `samples` are split-wide indices, `views[b]` the chosen view indices (inputs first).
/// `cursor` is where this batch was drawn; `next` is what to save to resume after it.
/// B can be smaller at the end of an epoch (even 0 on some ranks, see `DistributedSampler`).
public struct Batch: @unchecked Sendable {
    public var images: Tensor
    public var alpha: Tensor
    public var intrinsics: Tensor
    public var w2c: Tensor
    public var background: Tensor
    public var samples: [Int]
    public var views: [[Int]]
    public var cursor: DistributedSampler.Cursor
    public var next: DistributedSampler.Cursor
    public var count: Int { samples.count }
}

/// Assembles batches on a background thread, `prefetch` ahead of the consumer.
///
/// Everything random in a batch (view choice, background colour) comes from a Philox stream keyed
/// by (seed, epoch, sample), so a batch depends only on the sampler cursor: a resumed run, or a
/// prefetched batch thrown away at shutdown, changes nothing.
public final class BatchLoader: @unchecked Sendable {
    public let dataset: ShardedDataset
    public let selection: ViewSelection
    public let background: Background
    public let seed: UInt64
    private let producer: Producer

    public init(dataset: ShardedDataset, sampler: DistributedSampler, selection: ViewSelection,
                background: Background = .white, seed: UInt64 = 0, prefetch: Int = 2) throws {
        try selection.validate(dataset)
        guard sampler.count == dataset.count else {
            throw DataError(dataset.folder, "sampler covers \(sampler.count) samples, split '\(dataset.split)' has \(dataset.count)")
        }
        self.dataset = dataset
        self.selection = selection
        self.background = background
        self.seed = seed
        let assembler = BatchAssembler(dataset: dataset, selection: selection, background: background, seed: seed)
        producer = Producer(assembler: assembler, sampler: sampler, capacity: max(1, prefetch))
    }

    deinit { producer.stop() }

    /// The next batch, waiting for it if needed. Rethrows a read error (naming the shard).
    public func next() throws -> Batch { try producer.next() }

    /// Stops the background thread; prefetched batches are dropped.
    public func stop() { producer.stop() }
}

/// The background thread and its bounded queue. The thread holds the producer, not the loader,
/// so dropping the loader stops it.
private final class Producer: @unchecked Sendable {
    private let assembler: BatchAssembler
    private var sampler: DistributedSampler
    private let capacity: Int
    private var queue: [Result<Batch, Error>] = []
    private var stopped = false
    private var running = true
    private let condition = NSCondition()

    init(assembler: BatchAssembler, sampler: DistributedSampler, capacity: Int) {
        self.assembler = assembler
        self.sampler = sampler
        self.capacity = capacity
        let thread = Thread { self.produce() }
        thread.name = "relief.batch-loader"
        thread.start()
    }

    func next() throws -> Batch {
        condition.lock()
        while queue.isEmpty && running { condition.wait() }
        guard !queue.isEmpty else { condition.unlock(); throw DataError(assembler.dataset.folder, "loader stopped") }
        let item = queue.removeFirst()
        condition.broadcast()
        condition.unlock()
        return try item.get()
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        while running { condition.wait() }
        condition.unlock()
    }

    private func produce() {
        var scratch = [UInt8](repeating: 0, count: assembler.dataset.height * assembler.dataset.width * 4)
        condition.lock()
        while !stopped {
            while queue.count >= capacity && !stopped { condition.wait() }
            if stopped { break }
            condition.unlock()
            let (cursor, indices) = sampler.next()
            let result = Result { try assembler.assemble(indices, cursor: cursor, next: sampler.cursor, scratch: &scratch) }
            condition.lock()
            queue.append(result)
            condition.broadcast()
            if case .failure = result { break } // deliver the error, produce nothing after it
        }
        running = false
        condition.broadcast()
        condition.unlock()
    }
}

/// Reads, selects and composites the samples of one batch. Usable on its own, without the thread.
public struct BatchAssembler: Sendable {
    public let dataset: ShardedDataset
    public let selection: ViewSelection
    public let background: Background
    public let seed: UInt64

    public init(dataset: ShardedDataset, selection: ViewSelection, background: Background, seed: UInt64) {
        self.dataset = dataset
        self.selection = selection
        self.background = background
        self.seed = seed
    }

    /// Builds the batch for `indices` (also usable directly, without the thread). Every view is
    /// checked against its checksum as it is read; damaged bytes fail the batch, naming shard,
    /// sample and view. `scratch` grows to the selected views of one sample if smaller.
    public func assemble(_ indices: [Int], cursor: DistributedSampler.Cursor, next: DistributedSampler.Cursor,
                         scratch: inout [UInt8]) throws -> Batch {
        let b = indices.count, v = selection.count, h = dataset.height, w = dataset.width, plane = h * w
        // Fresh, uniquely owned storage: filled in place through its base pointer.
        let images = Tensor(uninitializedShape: [b, v, 3, h, w])
        let alpha = Tensor(uninitializedShape: [b, v, 1, h, w])
        let intrinsics = Tensor(uninitializedShape: [b, v, 4])
        let w2c = Tensor(uninitializedShape: [b, v, 4, 4])
        let colours = Tensor(uninitializedShape: [b, 3])
        var chosen = [[Int]]()
        if scratch.count < v * plane * 4 { scratch = [UInt8](repeating: 0, count: v * plane * 4) }
        let img = images.storage.base, alp = alpha.storage.base
        let k = intrinsics.storage.base, m = w2c.storage.base, bg = colours.storage.base
        for (slot, sample) in indices.enumerated() {
            var rng = Philox(seed: seed, stream: UInt64(cursor.epoch) << 32 | UInt64(sample))
            let cameras = dataset.w2c(sample)
            let views: [Int]
            do { views = try selection.choose(views: dataset.views, w2c: cameras, rng: &rng) } catch let e as DataError {
                throw DataError(dataset.folder, "sample \(sample) (subject '\(dataset.subject(sample))'): \(e.message)")
            }
            let colour = background.colour(rng: &rng)
            chosen.append(views)
            bg[slot * 3] = colour.x; bg[slot * 3 + 1] = colour.y; bg[slot * 3 + 2] = colour.z
            let intr = dataset.intrinsics(sample)
            try scratch.withUnsafeMutableBytes { try dataset.readCheckedViews(sample, views: views, into: $0.baseAddress!) }
            for (j, view) in views.enumerated() {
                let out = slot * v + j
                for i in 0..<4 { k[out * 4 + i] = intr[intr.startIndex + view * 4 + i] }
                for i in 0..<16 { m[out * 16 + i] = cameras[cameras.startIndex + view * 16 + i] }
                scratch.withUnsafeBufferPointer { src in
                    BatchAssembler.composite(src.baseAddress! + j * plane * 4, count: plane, background: colour,
                                          rgb: img + out * 3 * plane, alpha: alp + out * plane)
                }
            }
        }
        return Batch(images: images, alpha: alpha, intrinsics: intrinsics, w2c: w2c, background: colours,
                     samples: indices, views: chosen, cursor: cursor, next: next)
    }

    /// Interleaved RGBA8 → planar RGB (composited) and alpha, Float in [0, 1]:
    /// rgb = c/255 · a/255 + bg · (1 − a/255).
    @inline(__always)
    public static func composite(_ src: UnsafePointer<UInt8>, count: Int, background: SIMD3<Float>,
                          rgb: UnsafeMutablePointer<Float>, alpha: UnsafeMutablePointer<Float>) {
        let r = rgb, g = rgb + count, bl = rgb + 2 * count
        let scale: Float = 1 / 255
        // Eight pixels per step: one 32-byte load, deinterleaved in registers.
        var p = 0
        while p + 8 <= count {
            let px = UnsafeRawPointer(src + 4 * p).loadUnaligned(as: SIMD32<UInt8>.self)
            let a = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: SIMD8<UInt8>(px[3], px[7], px[11], px[15], px[19], px[23], px[27], px[31]))) * scale
            let keep = 1 - a
            let cr = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: SIMD8<UInt8>(px[0], px[4], px[8], px[12], px[16], px[20], px[24], px[28]))) * scale
            let cg = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: SIMD8<UInt8>(px[1], px[5], px[9], px[13], px[17], px[21], px[25], px[29]))) * scale
            let cb = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: SIMD8<UInt8>(px[2], px[6], px[10], px[14], px[18], px[22], px[26], px[30]))) * scale
            UnsafeMutableRawPointer(r + p).storeBytes(of: cr * a + background.x * keep, as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(g + p).storeBytes(of: cg * a + background.y * keep, as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(bl + p).storeBytes(of: cb * a + background.z * keep, as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(alpha + p).storeBytes(of: a, as: SIMD8<Float>.self)
            p += 8
        }
        while p < count {
            let a = Float(src[4 * p + 3]) * scale
            let keep = 1 - a
            r[p] = Float(src[4 * p]) * scale * a + background.x * keep
            g[p] = Float(src[4 * p + 1]) * scale * a + background.y * keep
            bl[p] = Float(src[4 * p + 2]) * scale * a + background.z * keep
            alpha[p] = a
            p += 1
        }
    }
}
