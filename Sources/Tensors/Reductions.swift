/// Deterministic reduction kernels. A value never depends on the thread count: contiguous runs
/// are summed in fixed blocks of `Parallel.reductionBlock` (16 Float lanes within a block),
/// blocks and strided terms are combined in Double in index order, and threads only ever split
/// the work between different outputs or different fixed blocks.
enum Reduction {
    /// Float sum of a short run (at most one reduction block) in 16 lanes.
    @inline(__always)
    static func blockSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = FloatVector()
        var j = 0
        while j + VectorMath.width <= n { acc += VectorMath.load(p + j); j += VectorMath.width }
        var s = acc.sum()
        while j < n { s += p[j]; j += 1 }
        return s
    }

    /// Sum of a contiguous run of any length: Float blocks, combined in Double in order.
    @inline(__always)
    static func runSum(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
        var total = 0.0, start = 0
        while start < n {
            let m = Swift.min(Parallel.reductionBlock, n - start)
            total += Double(blockSum(p + start, m))
            start += m
        }
        return total
    }

    /// Σ over 0..<n of per-block partials, the blocks computed in parallel and combined in order.
    /// Equal to running `block` over the blocks serially, whatever `Parallel.threads` is.
    static func total(_ n: Int, _ block: (Range<Int>) -> Double) -> Double {
        let blocks = Parallel.blockCount(n)
        if blocks <= 1 { return n == 0 ? 0 : block(0..<n) }
        let size = Parallel.reductionBlock
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: blocks) { partial in
            Parallel.forRanges(blocks, grain: 8) { r in
                for b in r { partial[b] = block(b * size ..< Swift.min(n, (b + 1) * size)) }
            }
            var s = 0.0
            for b in 0..<blocks { s += partial[b] }
            return s
        }
    }

    /// dst (kept dims of `shape`, compact) = scale · Σ src over the dims flagged in `reduce`
    /// (or += when `accumulate`).
    static func sum(_ src: UnsafePointer<Float>, shape: [Int], reduce: [Bool], into dst: UnsafeMutablePointer<Float>,
                    scale: Double, accumulate: Bool) {
        let plan = ReductionPlan(shape: shape, reduce: reduce)
        @inline(__always) func write(_ i: Int, _ v: Double) {
            let f = Float(v * scale)
            if accumulate { dst[i] += f } else { dst[i] = f }
        }
        if plan.outputCount == 0 { return }
        if plan.reducedCount == 0 {
            for i in 0..<plan.outputCount { write(i, 0) }
            return
        }
        if plan.isFull {
            write(0, total(plan.inner) { r in Double(blockSum(src + r.lowerBound, r.count)) })
            return
        }
        if plan.innerReduced {
            // One output per kept index: Σ over the outer reduced dims of contiguous-run sums.
            let work = plan.reducedCount
            Parallel.forRanges(plan.outputCount, grain: Swift.max(1, 32_768 / work)) { range in
                plan.withOdometer { odometer in
                    for o in range {
                        let base = plan.keptOffset(o)
                        var acc = 0.0
                        odometer.forEach { off in acc += runSum(src + base + off, plan.inner) }
                        write(o, acc)
                    }
                }
            }
        } else {
            // Output rows of `inner` contiguous values: accumulate input rows column-chunk-wise.
            // When there are few output chunks (a bias gradient: one row), the reduced terms are
            // also cut into fixed pieces so the threads share the work; the pieces depend only on
            // the shape, and their partial sums are combined in order.
            let chunk = 1024
            let chunks = (plan.inner + chunk - 1) / chunk
            let rows = plan.outputCount / plan.inner
            let width = Swift.min(chunk, plan.inner)
            let piece = rows * chunks >= 8 ? plan.reducedCount : Swift.max(1, 65_536 / width)
            let pieces = (plan.reducedCount + piece - 1) / piece
            let tasks = rows * chunks * pieces
            let work = Swift.min(piece, plan.reducedCount) * width
            withUnsafeTemporaryAllocation(of: Double.self, capacity: pieces > 1 ? tasks * width : 0) { partial in
                Parallel.forRanges(tasks, grain: Swift.max(1, 32_768 / work)) { range in
                    plan.withOdometer { odometer in
                        withUnsafeTemporaryAllocation(of: Double.self, capacity: chunk) { acc in
                            for task in range {
                                let p = task % pieces, rowChunk = task / pieces
                                let row = rowChunk / chunks, c0 = (rowChunk % chunks) * chunk
                                let n = Swift.min(chunk, plan.inner - c0)
                                let base = plan.keptOffset(row) + c0
                                for j in 0..<n { acc[j] = 0 }
                                odometer.forEach(in: p * piece ..< Swift.min(plan.reducedCount, (p + 1) * piece)) { off in
                                    let src = src + base + off
                                    for j in 0..<n { acc[j] += Double(src[j]) }
                                }
                                if pieces == 1 {
                                    for j in 0..<n { write(row * plan.inner + c0 + j, acc[j]) }
                                } else {
                                    for j in 0..<n { partial[task * width + j] = acc[j] }
                                }
                            }
                        }
                    }
                }
                if pieces == 1 { return }
                for rowChunk in 0..<(rows * chunks) {
                    let row = rowChunk / chunks, c0 = (rowChunk % chunks) * chunk
                    for j in 0..<Swift.min(chunk, plan.inner - c0) {
                        var s = 0.0
                        for p in 0..<pieces { s += partial[(rowChunk * pieces + p) * width + j] }
                        write(row * plan.inner + c0 + j, s)
                    }
                }
            }
        }
    }

    /// Sums a tensor of broadcast shape `shape` back to `target` (the gradient of a broadcast).
    static func sum(_ src: UnsafePointer<Float>, shape: [Int], to target: [Int], into dst: UnsafeMutablePointer<Float>,
                    scale: Double, accumulate: Bool) {
        let offset = shape.count - target.count
        check(offset >= 0, "broadcast gradient: cannot reduce \(shape) to \(target)")
        let reduce = shape.indices.map { d in d < offset || (target[d - offset] == 1 && shape[d] != 1) }
        sum(src, shape: shape, reduce: reduce, into: dst, scale: scale, accumulate: accumulate)
    }

    /// Max over the flagged dims, with the flat input index of the first maximal element
    /// (NaN wins, as in PyTorch).
    static func max(_ src: UnsafePointer<Float>, shape: [Int], reduce: [Bool], into dst: UnsafeMutablePointer<Float>,
                    argmax: UnsafeMutablePointer<Int>) {
        let plan = ReductionPlan(shape: shape, reduce: reduce)
        check(plan.reducedCount > 0 || plan.outputCount == 0, "maximum over an empty dimension of \(shape)")
        if plan.outputCount == 0 { return }
        @inline(__always) func better(_ v: Float, _ best: Float) -> Bool { v > best || (v.isNaN && !best.isNaN) }
        if plan.innerReduced {
            Parallel.forRanges(plan.outputCount, grain: Swift.max(1, 32_768 / plan.reducedCount)) { range in
                plan.withOdometer { odometer in
                    for o in range {
                        let base = plan.keptOffset(o)
                        var best = src[base], at = base
                        odometer.forEach { off in
                            let p = base + off
                            for j in 0..<plan.inner where better(src[p + j], best) { best = src[p + j]; at = p + j }
                        }
                        dst[o] = best
                        argmax[o] = at
                    }
                }
            }
        } else {
            let rows = plan.outputCount / plan.inner
            Parallel.forRanges(rows, grain: Swift.max(1, 32_768 / (plan.reducedCount * plan.inner))) { range in
                plan.withOdometer { odometer in
                    for row in range {
                        let base = plan.keptOffset(row), out = row * plan.inner
                        for j in 0..<plan.inner { dst[out + j] = src[base + j]; argmax[out + j] = base + j }
                        odometer.forEach { off in
                            let p = base + off
                            for j in 0..<plan.inner where better(src[p + j], dst[out + j]) {
                                dst[out + j] = src[p + j]
                                argmax[out + j] = p + j
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A reduction with size-1 dimensions dropped and neighbouring dimensions of the same kind
/// (kept / reduced) merged. The last merged dimension is the contiguous `inner` run; the other
/// dimensions are split into kept ones (which index outputs) and reduced ones (walked per output).
struct ReductionPlan {
    var keptSizes: [Int] = [], keptStrides: [Int] = []
    var reducedSizes: [Int] = [], reducedStrides: [Int] = []
    var inner = 1
    var innerReduced = false
    /// Outputs (including the inner run when it is kept) and terms per output.
    var outputCount = 1
    var reducedCount = 1

    /// Everything reduces into one value over one contiguous run.
    var isFull: Bool { innerReduced && keptSizes.isEmpty && reducedSizes.isEmpty }

    init(shape: [Int], reduce: [Bool]) {
        var sizes: [Int] = [], flags: [Bool] = []
        for (n, r) in zip(shape, reduce) {
            if n == 1 { continue }
            if let last = flags.last, last == r { sizes[sizes.count - 1] *= n } else { sizes.append(n); flags.append(r) }
        }
        if shape.contains(0) {
            outputCount = shape.indices.reduce(1) { reduce[$1] ? $0 : $0 * shape[$1] }
            reducedCount = shape.indices.reduce(1) { reduce[$1] ? $0 * shape[$1] : $0 }
            return
        }
        guard let innerFlag = flags.last else { return }
        inner = sizes[sizes.count - 1]
        innerReduced = innerFlag
        var step = inner
        for d in stride(from: sizes.count - 2, through: 0, by: -1) {
            if flags[d] { reducedSizes.append(sizes[d]); reducedStrides.append(step) }
            else { keptSizes.append(sizes[d]); keptStrides.append(step) }
            step *= sizes[d]
        }
        keptSizes.reverse(); keptStrides.reverse(); reducedSizes.reverse(); reducedStrides.reverse()
        outputCount = keptSizes.reduce(innerReduced ? 1 : inner, *)
        reducedCount = reducedSizes.reduce(innerReduced ? inner : 1, *)
    }

    /// Input offset of kept row `o` (its index over `keptSizes`).
    @inline(__always)
    func keptOffset(_ o: Int) -> Int {
        var rest = o, offset = 0
        for d in stride(from: keptSizes.count - 1, through: 0, by: -1) {
            offset += (rest % keptSizes[d]) * keptStrides[d]
            rest /= keptSizes[d]
        }
        return offset
    }

    @inline(__always)
    func withOdometer<R>(_ body: (inout Odometer) -> R) -> R {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: Swift.max(reducedSizes.count, 1)) { index in
            var odometer = Odometer(sizes: reducedSizes, strides: reducedStrides, index: index.baseAddress!)
            return body(&odometer)
        }
    }
}

/// Walks the offsets of a multi-index in row-major order (increasing memory order).
struct Odometer {
    let sizes: [Int], strides: [Int]
    let index: UnsafeMutablePointer<Int>

    @inline(__always)
    mutating func forEach(_ body: (Int) -> Void) {
        forEach(in: 0..<sizes.reduce(1, *), body)
    }

    /// The offsets of flat multi-indices `range` only, in order.
    @inline(__always)
    mutating func forEach(in range: Range<Int>, _ body: (Int) -> Void) {
        let rank = sizes.count
        if rank == 0 { if range.contains(0) { body(0) }; return }
        var rest = range.lowerBound, offset = 0
        for d in stride(from: rank - 1, through: 0, by: -1) {
            index[d] = rest % sizes[d]
            rest /= sizes[d]
            offset += index[d] * strides[d]
        }
        var remaining = range.count
        while remaining > 0 {
            body(offset)
            remaining -= 1
            if remaining == 0 { return }
            var d = rank - 1
            while true {
                index[d] += 1
                offset += strides[d]
                if index[d] < sizes[d] { break }
                offset -= strides[d] * sizes[d]
                index[d] = 0
                d -= 1
            }
        }
    }
}

// MARK: - Autodiff reductions

extension Tensor {
    /// Sorted, validated reduction flags for `axes` (negative axes count from the end).
    func reductionFlags(_ axes: [Int]?) -> [Bool] {
        guard let axes else { return [Bool](repeating: true, count: rank) }
        var flags = [Bool](repeating: false, count: rank)
        for a in axes {
            let d = a < 0 ? a + rank : a
            check(d >= 0 && d < rank, "reduction axis \(a) out of range for shape \(shape)")
            check(!flags[d], "reduction axis \(a) repeated in \(axes) for shape \(shape)")
            flags[d] = true
        }
        return flags
    }

    func reducedShapes(_ flags: [Bool], keepDims: Bool) -> (kept: [Int], out: [Int]) {
        let kept = shape.indices.map { flags[$0] ? 1 : shape[$0] }
        let out = keepDims ? kept : shape.indices.filter { !flags[$0] }.map { shape[$0] }
        return (kept, out)
    }

    func scaledSum(_ flags: [Bool], keepDims: Bool, meanOf: Bool) -> Tensor {
        let (kept, outShape) = reducedShapes(flags, keepDims: keepDims)
        let terms = shape.indices.reduce(1) { flags[$1] ? $0 * shape[$1] : $0 }
        let scale = meanOf ? 1 / Double(terms) : 1
        let out = Tensor(uninitializedShape: outShape)
        Reduction.sum(storage.base, shape: shape, reduce: flags, into: out.storage.base, scale: scale, accumulate: false)
        let x = self
        return out.recorded(x) { g in
            if let gx = Tape.shared.gradientBuffer(x.gradSlot) {
                accumulateBroadcast(g, shape: kept, into: gx, shape: x.shape, scale: Float(scale))
            }
        }
    }

    /// Σ of all elements, as a scalar (shape []).
    public func sum() -> Tensor { scaledSum(reductionFlags(nil), keepDims: false, meanOf: false) }

    /// Σ over `axes`; `keepDims` leaves them as size 1.
    public func sum(axes: [Int], keepDims: Bool = false) -> Tensor {
        scaledSum(reductionFlags(axes), keepDims: keepDims, meanOf: false)
    }

    /// Mean of all elements, as a scalar.
    public func mean() -> Tensor { scaledSum(reductionFlags(nil), keepDims: false, meanOf: true) }

    public func mean(axes: [Int], keepDims: Bool = false) -> Tensor {
        scaledSum(reductionFlags(axes), keepDims: keepDims, meanOf: true)
    }

    /// Maximum of all elements; the gradient flows to the first maximal element. (Named
    /// `maximum`, not `max`, so that `max(a, b)` keeps meaning Swift's inside Tensor extensions.)
    public func maximum() -> Tensor { reducedMax(reductionFlags(nil), keepDims: false) }

    /// Maximum over `axes`; the gradient flows to the first maximal element of each slice.
    public func maximum(axes: [Int], keepDims: Bool = false) -> Tensor {
        reducedMax(reductionFlags(axes), keepDims: keepDims)
    }

    func reducedMax(_ flags: [Bool], keepDims: Bool) -> Tensor {
        let (_, outShape) = reducedShapes(flags, keepDims: keepDims)
        let out = Tensor(uninitializedShape: outShape)
        var argmax = [Int](repeating: 0, count: out.count)
        argmax.withUnsafeMutableBufferPointer { a in
            Reduction.max(storage.base, shape: shape, reduce: flags, into: out.storage.base, argmax: a.baseAddress!)
        }
        let x = self
        return out.recorded(x) { g in
            if let gx = Tape.shared.gradientBuffer(x.gradSlot) {
                for (o, i) in argmax.enumerated() { gx[i] += g[o] }
            }
        }
    }

    /// Variance over all elements: Σ(x − mean)² / (N − correction), as `torch.var`
    /// (correction 1 = unbiased, 0 = population).
    public func variance(correction: Int = 1) -> Tensor {
        centredSquares(reductionFlags(nil), correction: correction, keepDims: false)
    }

    public func variance(axes: [Int], correction: Int = 1, keepDims: Bool = false) -> Tensor {
        centredSquares(reductionFlags(axes), correction: correction, keepDims: keepDims)
    }

    func centredSquares(_ flags: [Bool], correction: Int, keepDims: Bool) -> Tensor {
        let terms = shape.indices.reduce(1) { flags[$1] ? $0 * shape[$1] : $0 }
        let (kept, outShape) = reducedShapes(flags, keepDims: keepDims)
        let centred = self - scaledSum(flags, keepDims: true, meanOf: true)
        let s = square(centred).scaledSum(flags, keepDims: true, meanOf: false)
        let v = s * (1 / Float(Swift.max(terms - correction, 0)))
        return kept == outShape ? v : v.viewing(as: outShape)
    }
}

/// gx (shape `shape`) += scale · g broadcast from `gShape`.
func accumulateBroadcast(_ g: UnsafePointer<Float>, shape gShape: [Int], into gx: UnsafeMutablePointer<Float>,
                         shape: [Int], scale: Float) {
    let n = elementCount(shape), m = elementCount(gShape)
    let f = AddScaled(scale: scale)
    if m == n || m == 1 {
        BinaryKernels.apply(f, count: n, gx, 1, g, m == n ? 1 : 0, gx)
    } else {
        BinaryKernels.apply(f, BroadcastLayout(output: shape, x: shape, y: gShape), gx, g, gx)
    }
}

/// a + scale·b.
struct AddScaled: VectorBinaryFunction {
    let scale: Float
    @inline(__always) func callAsFunction(_ a: FloatVector, _ b: FloatVector) -> FloatVector { a + b * scale }
}
