/// NumPy broadcasting: shapes align at their last dimension; a dimension of size 1 (or a
/// missing leading one) stretches to the other operand's size.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
    let rank = max(a.count, b.count)
    var out = [Int](repeating: 1, count: rank)
    for d in 0..<rank {
        let da = d < rank - a.count ? 1 : a[d - (rank - a.count)]
        let db = d < rank - b.count ? 1 : b[d - (rank - b.count)]
        check(da == db || da == 1 || db == 1, "shapes \(a) and \(b) do not broadcast (dimension \(d))")
        out[d] = da == 1 ? db : da
    }
    return out
}

/// How two operands of a broadcast op walk the output, with adjacent dimensions that broadcast
/// alike merged. A [N, C, H, W] ⊕ [1, C, 1, 1] op becomes three dimensions [N, C, H·W] with
/// strides (…, 1) and (0, 1, 0); the last dimension is a contiguous run in which each operand
/// either advances (stride 1) or repeats one value (stride 0), which the kernels vectorise.
struct BroadcastLayout {
    var sizes: [Int] = []
    var xStrides: [Int] = []
    var yStrides: [Int] = []
    let count: Int

    init(output: [Int], x: [Int], y: [Int]) {
        count = elementCount(output)
        let rank = output.count
        var xStride = 1, yStride = 1
        var flags: (Bool, Bool)?
        for d in stride(from: rank - 1, through: 0, by: -1) {
            let n = output[d]
            if n == 1 { continue }
            let xd = d - (rank - x.count), yd = d - (rank - y.count)
            let xBroadcast = xd < 0 || x[xd] == 1, yBroadcast = yd < 0 || y[yd] == 1
            if let f = flags, f == (xBroadcast, yBroadcast) {
                sizes[sizes.count - 1] *= n
            } else {
                sizes.append(n)
                xStrides.append(xBroadcast ? 0 : xStride)
                yStrides.append(yBroadcast ? 0 : yStride)
                flags = (xBroadcast, yBroadcast)
            }
            if !xBroadcast { xStride *= n }
            if !yBroadcast { yStride *= n }
        }
        if sizes.isEmpty { sizes = [1]; xStrides = [1]; yStrides = [1] }
        sizes.reverse(); xStrides.reverse(); yStrides.reverse()
    }

    /// Calls `body(outputOffset, xOffset, yOffset, length)` for each contiguous run of the flat
    /// output positions in `range`, in order. The inner strides are `xStrides.last`, `yStrides.last`.
    @inline(__always)
    func forEachRun(in range: Range<Int>, _ body: (Int, Int, Int, Int) -> Void) {
        let outer = sizes.count - 1, inner = sizes[outer]
        let xi = xStrides[outer], yi = yStrides[outer]
        if outer == 0 {
            body(range.lowerBound, range.lowerBound * xi, range.lowerBound * yi, range.count)
            return
        }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: outer) { index in
            var pos = range.lowerBound
            var row = pos / inner
            var xBase = 0, yBase = 0
            for d in stride(from: outer - 1, through: 0, by: -1) {
                index[d] = row % sizes[d]
                row /= sizes[d]
                xBase += index[d] * xStrides[d]
                yBase += index[d] * yStrides[d]
            }
            var column = pos % inner
            while pos < range.upperBound {
                let n = min(inner - column, range.upperBound - pos)
                body(pos, xBase + column * xi, yBase + column * yi, n)
                pos += n
                column = 0
                var d = outer - 1
                while d >= 0 {
                    index[d] += 1
                    xBase += xStrides[d]
                    yBase += yStrides[d]
                    if index[d] < sizes[d] { break }
                    xBase -= xStrides[d] * sizes[d]
                    yBase -= yStrides[d] * sizes[d]
                    index[d] = 0
                    d -= 1
                }
            }
        }
    }
}

/// A lane-wise function of two vectors (the kernels of the binary ops and their gradients).
protocol VectorBinaryFunction {
    func callAsFunction(_ a: FloatVector, _ b: FloatVector) -> FloatVector
}

enum BinaryKernels {
    /// o[0..<n] = f(x[·], y[·]) (or += when `accumulate`), where an operand with stride 0 repeats
    /// its first value. `o` may be `x` itself (stride 1): every vector is loaded before it is stored.
    @inline(__always)
    static func run<F: VectorBinaryFunction>(_ f: F, _ n: Int, _ x: UnsafePointer<Float>, _ sx: Int,
                                            _ y: UnsafePointer<Float>, _ sy: Int, _ o: UnsafeMutablePointer<Float>,
                                            accumulate: Bool) {
        @inline(__always) func put(_ v: FloatVector, _ j: Int, _ count: Int) {
            VectorMath.store(accumulate ? VectorMath.load(o + j, count: count) + v : v, o + j, count: count)
        }
        let w = VectorMath.width
        var j = 0
        switch (sx, sy) {
        case (1, 1):
            while j + w <= n { put(f(VectorMath.load(x + j), VectorMath.load(y + j)), j, w); j += w }
            if j < n { put(f(VectorMath.load(x + j, count: n - j), VectorMath.load(y + j, count: n - j)), j, n - j) }
        case (1, 0):
            let yv = FloatVector(repeating: y[0])
            while j + w <= n { put(f(VectorMath.load(x + j), yv), j, w); j += w }
            if j < n { put(f(VectorMath.load(x + j, count: n - j), yv), j, n - j) }
        case (0, 1):
            let xv = FloatVector(repeating: x[0])
            while j + w <= n { put(f(xv, VectorMath.load(y + j)), j, w); j += w }
            if j < n { put(f(xv, VectorMath.load(y + j, count: n - j)), j, n - j) }
        default:
            let v = f(FloatVector(repeating: x[0]), FloatVector(repeating: y[0]))
            while j + w <= n { put(v, j, w); j += w }
            if j < n { put(v, j, n - j) }
        }
    }

    /// out = f(x, y) over the broadcast of the two shapes; `out` holds `layout.count` floats and
    /// may be x's own memory when x already has the output shape (in-place accumulation).
    static func apply<F: VectorBinaryFunction>(_ f: F, _ layout: BroadcastLayout, _ x: UnsafePointer<Float>,
                                               _ y: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                               accumulate: Bool = false) {
        let xi = layout.xStrides[layout.sizes.count - 1], yi = layout.yStrides[layout.sizes.count - 1]
        Parallel.forRanges(layout.count, grain: 32_768) { range in
            layout.forEachRun(in: range) { o, xo, yo, n in
                run(f, n, x + xo, xi, y + yo, yi, out + o, accumulate: accumulate)
            }
        }
    }

    /// Same-shape case without a layout: the common and cheapest path.
    static func apply<F: VectorBinaryFunction>(_ f: F, count: Int, _ x: UnsafePointer<Float>, _ xStride: Int,
                                               _ y: UnsafePointer<Float>, _ yStride: Int, _ out: UnsafeMutablePointer<Float>,
                                               accumulate: Bool = false) {
        Parallel.forRanges(count, grain: 32_768) { r in
            run(f, r.count, x + r.lowerBound * xStride, xStride, y + r.lowerBound * yStride, yStride, out + r.lowerBound,
                accumulate: accumulate)
        }
    }

    /// out = f(x, y) for tensors of any broadcast-compatible shapes; picks the cheapest walk.
    static func apply<F: VectorBinaryFunction>(_ f: F, x: Tensor, y: Tensor, outShape: [Int], into out: UnsafeMutablePointer<Float>) {
        apply(f, x: x.storage.base, shape: x.shape, y: y.storage.base, shape: y.shape, outShape: outShape, into: out)
    }

    static func apply<F: VectorBinaryFunction>(_ f: F, x: UnsafePointer<Float>, shape xShape: [Int],
                                               y: UnsafePointer<Float>, shape yShape: [Int],
                                               outShape: [Int], into out: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        let n = elementCount(outShape)
        if n == 0 { return }
        let xCount = elementCount(xShape), yCount = elementCount(yShape)
        let xFull = xCount == n, yFull = yCount == n
        if (xFull || xCount == 1) && (yFull || yCount == 1) {
            apply(f, count: n, x, xFull ? 1 : 0, y, yFull ? 1 : 0, out, accumulate: accumulate)
        } else {
            apply(f, BroadcastLayout(output: outShape, x: xShape, y: yShape), x, y, out, accumulate: accumulate)
        }
    }
}

extension Tensor {
    /// This tensor stretched to `shape` by broadcasting (materialised); its gradient sums back.
    public func broadcast(to shape: [Int]) -> Tensor {
        check(broadcastShape(self.shape, shape) == shape, "cannot broadcast \(self.shape) to \(shape)")
        if self.shape == shape { return self }
        let out = Tensor(uninitializedShape: shape)
        let source = self
        BinaryKernels.apply(Second(), x: source, y: source, outShape: shape, into: out.storage.base)
        return out.recorded(source) { g in
            if let gs = Tape.shared.gradientBuffer(source.gradSlot) {
                Reduction.sum(g, shape: shape, to: source.shape, into: gs, scale: 1, accumulate: true)
            }
        }
    }
}

/// Picks the second operand (a broadcast copy).
struct Second: VectorBinaryFunction {
    @inline(__always) func callAsFunction(_ a: FloatVector, _ b: FloatVector) -> FloatVector { b }
}
