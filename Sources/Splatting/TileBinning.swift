/// Owned scratch memory for one rasterizer call (freed when the call's backward is done).
final class ScratchBuffer<T> {
    let base: UnsafeMutablePointer<T>
    let count: Int
    init(_ count: Int) {
        self.count = count
        base = UnsafeMutablePointer<T>.allocate(capacity: max(count, 1))
    }
    init(_ count: Int, repeating value: T) {
        self.count = count
        base = UnsafeMutablePointer<T>.allocate(capacity: max(count, 1))
        base.initialize(repeating: value, count: max(count, 1))
    }
    deinit { base.deallocate() }
}

/// Per-tile lists of Gaussians in depth order: the order every pixel of the tile blends in.
///
/// Instead of one sort over (tile, depth) keys, each image sorts its visible Gaussians by depth
/// once (LSD radix on the Float bits, stable so equal depths keep index order) and then
/// distributes them to tiles with a counting pass: the lists come out depth-ordered and the
/// work is linear in Gaussians plus tile instances.
enum TileBinning {
    /// Sorts `count` (key, value) pairs by key, stably. `tmpKeys`/`tmpValues` are scratch of the same size.
    static func radixSort(keys: UnsafeMutablePointer<UInt32>, values: UnsafeMutablePointer<Int32>, count: Int,
                          tmpKeys: UnsafeMutablePointer<UInt32>, tmpValues: UnsafeMutablePointer<Int32>) {
        guard count > 1 else { return }
        var srcK = keys, srcV = values, dstK = tmpKeys, dstV = tmpValues
        var histogram = [Int](repeating: 0, count: 256)
        histogram.withUnsafeMutableBufferPointer { h in
            for shift in stride(from: 0, to: 32, by: 8) {
                h.update(repeating: 0)
                for i in 0..<count { h[Int((srcK[i] >> UInt32(shift)) & 255)] += 1 }
                // A byte shared by every key would move nothing.
                if h[Int((srcK[0] >> UInt32(shift)) & 255)] == count { continue }
                var sum = 0
                for b in 0..<256 { let c = h[b]; h[b] = sum; sum += c }
                for i in 0..<count {
                    let b = Int((srcK[i] >> UInt32(shift)) & 255)
                    let p = h[b]; h[b] = p + 1
                    dstK[p] = srcK[i]; dstV[p] = srcV[i]
                }
                swap(&srcK, &dstK); swap(&srcV, &dstV)
            }
        }
        if srcK != keys {
            keys.update(from: srcK, count: count)
            values.update(from: srcV, count: count)
        }
    }
}
