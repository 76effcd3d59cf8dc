import Foundation

/// A reference-counted block of Float32s. Either owns its memory (returned to `BufferPool` on
/// release) or is a view into another storage's memory (e.g. one parameter inside the flat
/// parameter buffer), keeping that owner alive.
public final class TensorStorage {
    public let base: UnsafeMutablePointer<Float>
    public let count: Int
    private let owner: TensorStorage?

    /// Uninitialised memory from the pool.
    init(uninitializedCount count: Int) {
        self.base = BufferPool.shared.take(count)
        self.count = count
        self.owner = nil
    }

    /// A view of `count` floats starting at `offset` inside `owner`.
    public init(viewOf owner: TensorStorage, offset: Int, count: Int) {
        check(offset >= 0 && offset + count <= owner.count, "TensorStorage view of \(count) floats at offset \(offset) outside a storage of \(owner.count)")
        self.base = owner.base + offset
        self.count = count
        self.owner = owner
    }

    deinit {
        if owner == nil { BufferPool.shared.give(base, count) }
    }
}

/// Recycles buffers by exact element count: a training loop allocates the same shapes every
/// step, and large fresh allocations are mmap'd and page-faulted each time.
public final class BufferPool: @unchecked Sendable {
    public static let shared = BufferPool()
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var cachedFloats = 0
    private let lock = NSLock()
    /// Upper bound on idle memory kept for reuse.
    public var capacityFloats = 1 << 30 / 4 * 3  // 3 GiB

    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let n = max(count, 1)
        lock.lock()
        if var list = free[n], let p = list.popLast() {
            free[n] = list
            cachedFloats -= n
            lock.unlock()
            return p
        }
        lock.unlock()
        // 64-byte alignment: AVX-512 loads and BLAS packing prefer it.
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, n * MemoryLayout<Float>.stride) == 0, let raw else {
            fatalError("out of memory allocating \(n) floats")
        }
        return raw.bindMemory(to: Float.self, capacity: n)
    }

    func give(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
        let n = max(count, 1)
        lock.lock()
        if cachedFloats + n <= capacityFloats {
            free[n, default: []].append(p)
            cachedFloats += n
            lock.unlock()
        } else {
            lock.unlock()
            Foundation.free(p)
        }
    }

    /// Releases every cached buffer.
    public func drain() {
        lock.lock()
        for (_, list) in free { for p in list { Foundation.free(p) } }
        free = [:]
        cachedFloats = 0
        lock.unlock()
    }
}
