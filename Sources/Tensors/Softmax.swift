/// Softmax and log-softmax over the last axis. Each row subtracts its maximum first, so large
/// logits never overflow; rows are independent and split across threads.

enum SoftmaxKernels {
    @inline(__always)
    static func rowMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var m = FloatVector(repeating: -.infinity)
        var j = 0
        while j + VectorMath.width <= n {
            let v = VectorMath.load(x + j)
            m.replace(with: v, where: v .> m)
            j += VectorMath.width
        }
        var best = m.max()
        while j < n { best = Swift.max(best, x[j]); j += 1 }
        return best
    }

    /// y = exp(x − shift) over a row, returning Σy (vector lanes, fixed order).
    @inline(__always)
    static func expShifted(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>?, _ n: Int, shift: Float) -> Float {
        var acc = FloatVector()
        var j = 0
        while j < n {
            let k = Swift.min(VectorMath.width, n - j)
            let e = VectorMath.exp(VectorMath.load(x + j, count: k) - shift)
            let kept = k == VectorMath.width ? e : e.replacing(with: 0, where: IntVectorIndex.lanes .>= Int32(k))
            acc += kept
            if let y { VectorMath.store(e, y + j, count: k) }
            j += k
        }
        return acc.sum()
    }

    /// Σ a·b over a row.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = FloatVector()
        var j = 0
        while j + VectorMath.width <= n { acc += VectorMath.load(a + j) * VectorMath.load(b + j); j += VectorMath.width }
        var s = acc.sum()
        while j < n { s += a[j] * b[j]; j += 1 }
        return s
    }

    static func forRows(_ rows: Int, _ n: Int, _ body: (Int) -> Void) {
        Parallel.forRanges(rows, grain: Swift.max(1, 16_384 / Swift.max(n, 1))) { r in for i in r { body(i) } }
    }
}

enum IntVectorIndex {
    static let lanes: IntVector = {
        var v = IntVector()
        for i in 0..<IntVector.scalarCount { v[i] = Int32(i) }
        return v
    }()
}

/// exp(x − max) / Σ exp(x − max) along the last axis.
public func softmax(_ x: Tensor) -> Tensor {
    check(x.rank >= 1, "softmax of a scalar")
    let n = x.shape[x.rank - 1], rows = n == 0 ? 0 : x.count / n
    let out = Tensor(uninitializedShape: x.shape)
    let (xp, yp) = (x.storage.base, out.storage.base)
    SoftmaxKernels.forRows(rows, n) { i in
        let row = xp + i * n, y = yp + i * n
        let sum = SoftmaxKernels.expShifted(row, y, n, shift: SoftmaxKernels.rowMax(row, n))
        let inv = 1 / sum
        var j = 0
        while j < n {
            let k = Swift.min(VectorMath.width, n - j)
            VectorMath.store(VectorMath.load(y + j, count: k) * inv, y + j, count: k)
            j += k
        }
    }
    return out.recorded(x) { [out] g in
        guard let gx = Tape.shared.gradientBuffer(x.gradSlot) else { return }
        let yp = out.storage.base
        SoftmaxKernels.forRows(rows, n) { i in   // dx = y·(g − Σ g·y)
            let y = yp + i * n, gi = g + i * n, gxi = gx + i * n
            let d = SoftmaxKernels.dot(gi, y, n)
            var j = 0
            while j < n {
                let k = Swift.min(VectorMath.width, n - j)
                let yv = VectorMath.load(y + j, count: k)
                let v = VectorMath.load(gxi + j, count: k) + yv * (VectorMath.load(gi + j, count: k) - d)
                VectorMath.store(v, gxi + j, count: k)
                j += k
            }
        }
    }
}

/// x − max − log Σ exp(x − max) along the last axis.
public func logSoftmax(_ x: Tensor) -> Tensor {
    check(x.rank >= 1, "logSoftmax of a scalar")
    let n = x.shape[x.rank - 1], rows = n == 0 ? 0 : x.count / n
    let out = Tensor(uninitializedShape: x.shape)
    let (xp, yp) = (x.storage.base, out.storage.base)
    SoftmaxKernels.forRows(rows, n) { i in
        let row = xp + i * n, y = yp + i * n
        let m = SoftmaxKernels.rowMax(row, n)
        let logSum = logf(SoftmaxKernels.expShifted(row, nil, n, shift: m))
        var j = 0
        while j < n {  // (x − max) − log Σ: subtracting the max first keeps large logits exact
            let k = Swift.min(VectorMath.width, n - j)
            VectorMath.store((VectorMath.load(row + j, count: k) - m) - logSum, y + j, count: k)
            j += k
        }
    }
    return out.recorded(x) { [out] g in
        guard let gx = Tape.shared.gradientBuffer(x.gradSlot) else { return }
        let yp = out.storage.base
        SoftmaxKernels.forRows(rows, n) { i in   // dx = g − softmax·Σg
            let y = yp + i * n, gi = g + i * n, gxi = gx + i * n
            let total = Reduction.blockSum(gi, n)
            var j = 0
            while j < n {
                let k = Swift.min(VectorMath.width, n - j)
                let p = VectorMath.exp(VectorMath.load(y + j, count: k))
                let v = VectorMath.load(gxi + j, count: k) + VectorMath.load(gi + j, count: k) - p * total
                VectorMath.store(v, gxi + j, count: k)
                j += k
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
