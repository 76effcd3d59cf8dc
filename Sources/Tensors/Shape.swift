/// Shape ops: views and copies that move elements without computing on them. Each routes the
/// gradient back to where the element came from: copies by a recorded backward, `reshaped` by
/// sharing its source's gradient slot.

extension Tensor {
    /// The same elements under another shape, sharing storage. One dimension may be -1, inferred
    /// from the element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        let resolved = resolveShape(newShape, count: count)
        var out = Tensor(shape: resolved, storage: storage)
        // Same elements, same order: the view shares the source's gradient slot, so its
        // consumers accumulate straight into the source's gradient (no record, no copy).
        if isTracked { out.gradSlot = gradSlot }
        return out
    }

    /// Axes reordered: output axis i is input axis `axes[i]` (as `torch.permute`).
    public func permuted(_ axes: [Int]) -> Tensor {
        check(axes.count == rank && Set(axes) == Set(0..<rank),
              "permuted(\(axes)) is not a permutation of the \(rank) axes of \(shape)")
        if axes == Array(0..<rank) { return reshaped(shape) }
        let out = Tensor(uninitializedShape: axes.map { shape[$0] })
        permute(storage.base, shape: shape, axes: axes, into: out.storage.base, accumulate: false)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, a) in axes.enumerated() { inverse[a] = i }
        let source = self, outShape = out.shape
        return out.recorded(source) { g in
            if let ga = Tape.shared.gradientBuffer(source.gradSlot) {
                permute(g, shape: outShape, axes: inverse, into: ga, accumulate: true)
            }
        }
    }

    /// The last two axes swapped.
    public func transposedLastTwo() -> Tensor {
        check(rank >= 2, "transposedLastTwo of \(shape)")
        var axes = Array(0..<rank)
        axes.swapAt(rank - 1, rank - 2)
        return permuted(axes)
    }

    /// Elements `range` along `axis` (a copy).
    public func sliced(axis: Int, range: Range<Int>) -> Tensor {
        let axis = normalizedAxis(axis, rank: rank)
        check(range.lowerBound >= 0 && range.upperBound <= shape[axis],
              "sliced(axis: \(axis), range: \(range)) is outside \(shape)")
        var outShape = shape
        outShape[axis] = range.count
        var origin = [Int](repeating: 0, count: rank)
        origin[axis] = range.lowerBound
        let zero = [Int](repeating: 0, count: rank)
        let out = Tensor(uninitializedShape: outShape)
        copyBox(outShape, from: storage.base, shape: shape, at: origin, to: out.storage.base, shape: outShape, at: zero,
                accumulate: false)
        let source = self
        return out.recorded(source) { g in
            if let ga = Tape.shared.gradientBuffer(source.gradSlot) {
                copyBox(outShape, from: g, shape: outShape, at: zero, to: ga, shape: source.shape, at: origin,
                        accumulate: true)
            }
        }
    }

    /// Constant padding: `pads[i]` elements before and after along axis i (one pair per axis).
    public func padded(_ pads: [(before: Int, after: Int)], value: Float = 0) -> Tensor {
        check(pads.count == rank, "padded needs one (before, after) pair per axis of \(shape), got \(pads.count)")
        check(pads.allSatisfy { $0.before >= 0 && $0.after >= 0 }, "padded takes non-negative pads")
        let outShape = zip(shape, pads).map { $0 + $1.before + $1.after }
        let origin = pads.map { $0.before }, zero = [Int](repeating: 0, count: rank)
        let out = Tensor(repeating: value, shape: outShape)
        copyBox(shape, from: storage.base, shape: shape, at: zero, to: out.storage.base, shape: outShape, at: origin,
                accumulate: false)
        let source = self
        return out.recorded(source) { g in
            if let ga = Tape.shared.gradientBuffer(source.gradSlot) {
                copyBox(source.shape, from: g, shape: outShape, at: origin, to: ga, shape: source.shape, at: zero,
                        accumulate: true)
            }
        }
    }
}

// MARK: - Kernels shared by the structural ops

/// Resolves one -1 in `shape` and checks the element count.
func resolveShape(_ shape: [Int], count: Int) -> [Int] {
    let unknown = shape.indices.filter { shape[$0] == -1 }
    check(unknown.count <= 1 && shape.allSatisfy { $0 >= -1 }, "reshaped(\(shape)): at most one -1, no other negatives")
    var resolved = shape
    if let u = unknown.first {
        let known = shape.filter { $0 != -1 }.reduce(1, *)
        check(known > 0 && count % known == 0, "reshaped(\(shape)) cannot hold \(count) elements")
        resolved[u] = count / known
    }
    check(elementCount(resolved) == count, "reshaped(\(shape)) cannot hold \(count) elements")
    return resolved
}

/// An axis index, allowing negatives counted from the end.
func normalizedAxis(_ axis: Int, rank: Int) -> Int {
    let a = axis < 0 ? axis + rank : axis
    check(a >= 0 && a < rank, "axis \(axis) out of range for rank \(rank)")
    return a
}

/// ga[i] += g[i].
@inline(__always)
func addGradient(_ g: UnsafePointer<Float>, into ga: UnsafeMutablePointer<Float>, count n: Int) {
    Parallel.forRanges(n, grain: 1 << 16) { r in
        for i in r { ga[i] += g[i] }
    }
}

/// Sum of n floats with 16 independent accumulators (vectorises; more accurate than one chain).
@inline(__always)
func simdSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD16<Float>()
    var i = 0
    while i + 16 <= n {
        acc += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
        i += 16
    }
    var s = acc.sum()
    while i < n { s += p[i]; i += 1 }
    return s
}

/// Σ a[i]·b[i] with 16 accumulators.
@inline(__always)
func simdDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD16<Float>()
    var i = 0
    while i + 16 <= n {
        acc += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self)
            * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD16<Float>.self)
        i += 16
    }
    var s = acc.sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

/// Row-major strides of a shape.
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) { strides[i] = s; s *= shape[i] }
    return strides
}

/// Copies (or adds) the box of size `extent` starting at `srcOrigin` in `src` (of `srcShape`) to
/// `dstOrigin` in `dst` (of `dstShape`). Rows along the last axis are contiguous on both sides;
/// rows are split across threads, so every destination element has exactly one writer.
func copyBox(_ extent: [Int], from src: UnsafePointer<Float>, shape srcShape: [Int], at srcOrigin: [Int],
             to dst: UnsafeMutablePointer<Float>, shape dstShape: [Int], at dstOrigin: [Int], accumulate: Bool) {
    let rank = extent.count
    if rank == 0 {
        if accumulate { dst[0] += src[0] } else { dst[0] = src[0] }
        return
    }
    if extent.contains(0) { return }
    let srcStrides = contiguousStrides(srcShape), dstStrides = contiguousStrides(dstShape)
    let rowLength = extent[rank - 1]
    let rows = elementCount(extent) / rowLength
    var srcBase = 0, dstBase = 0
    for a in 0..<rank { srcBase += srcOrigin[a] * srcStrides[a]; dstBase += dstOrigin[a] * dstStrides[a] }
    Parallel.forRanges(rows, grain: max(1, 32_768 / rowLength)) { range in
        // Decode the first row's multi-index once, then step it like an odometer.
        var index = [Int](repeating: 0, count: rank)
        var rem = range.lowerBound
        for a in stride(from: rank - 2, through: 0, by: -1) { index[a] = rem % extent[a]; rem /= extent[a] }
        var s = srcBase, d = dstBase
        for a in 0..<(rank - 1) { s += index[a] * srcStrides[a]; d += index[a] * dstStrides[a] }
        index.withUnsafeMutableBufferPointer { idx in
            for _ in range {
                let sp = src + s, dp = dst + d
                if accumulate {
                    for j in 0..<rowLength { dp[j] += sp[j] }
                } else {
                    dp.update(from: sp, count: rowLength)
                }
                var a = rank - 2
                while a >= 0 {
                    idx[a] += 1; s += srcStrides[a]; d += dstStrides[a]
                    if idx[a] < extent[a] { break }
                    s -= idx[a] * srcStrides[a]; d -= idx[a] * dstStrides[a]; idx[a] = 0
                    a -= 1
                }
            }
        }
    }
}

/// out = permute(src, axes) (or out += …): output axis i is input axis axes[i].
func permute(_ src: UnsafePointer<Float>, shape: [Int], axes: [Int], into dst: UnsafeMutablePointer<Float>,
             accumulate: Bool) {
    // Merge runs of input axes that stay adjacent and in order: fewer, longer loops.
    var groups: [[Int]] = []
    for a in axes {
        if var last = groups.last, last.last! + 1 == a { last.append(a); groups[groups.count - 1] = last }
        else { groups.append([a]) }
    }
    let order = groups.map { $0[0] }.sorted()
    let mergedInShape = order.map { first in groups.first { $0[0] == first }!.reduce(1) { $0 * shape[$1] } }
    let mergedAxes = groups.map { g in order.firstIndex(of: g[0])! }
    let rank = mergedAxes.count
    let inStrides = contiguousStrides(mergedInShape)
    let outShape = mergedAxes.map { mergedInShape[$0] }
    let strideOf = mergedAxes.map { inStrides[$0] }  // input stride of each output axis
    let total = elementCount(outShape)
    if total == 0 { return }

    if rank >= 2 && mergedAxes[rank - 1] == rank - 2 && mergedAxes[rank - 2] == rank - 1 {
        // Last two axes swapped (covers every 2-D-transpose-like permutation after merging).
        let rows = outShape[rank - 2], cols = outShape[rank - 1]  // output is [rows, cols], input [cols, rows]
        let batch = total / (rows * cols)
        let outerShape = Array(outShape.prefix(rank - 2)), outerStrides = Array(strideOf.prefix(rank - 2))
        let tile = 32
        let tilesR = (rows + tile - 1) / tile
        Parallel.forRanges(batch * tilesR, grain: max(1, 32_768 / (tile * cols))) { range in
            for item in range {
                let b = item / tilesR, r0 = (item % tilesR) * tile, r1 = min(rows, r0 + tile)
                var inOff = 0, rem = b
                for a in stride(from: outerShape.count - 1, through: 0, by: -1) {
                    inOff += (rem % outerShape[a]) * outerStrides[a]; rem /= outerShape[a]
                }
                let s = src + inOff, d = dst + b * rows * cols
                var c0 = 0
                while c0 < cols {
                    let c1 = min(cols, c0 + tile)
                    for r in r0..<r1 {
                        let drow = d + r * cols
                        if accumulate { for c in c0..<c1 { drow[c] += s[c * rows + r] } }
                        else { for c in c0..<c1 { drow[c] = s[c * rows + r] } }
                    }
                    c0 = c1
                }
            }
        }
        return
    }

    // General: walk output rows; the innermost output axis reads with stride `innerStride`
    // (1 when the last axis stays last, e.g. head splits [B,N,H,D] → [B,H,N,D]).
    let rowLength = outShape[rank - 1], innerStride = strideOf[rank - 1]
    let rows = total / rowLength
    Parallel.forRanges(rows, grain: max(1, 32_768 / rowLength)) { range in
        var index = [Int](repeating: 0, count: rank)
        var rem = range.lowerBound
        for a in stride(from: rank - 2, through: 0, by: -1) { index[a] = rem % outShape[a]; rem /= outShape[a] }
        var s = 0
        for a in 0..<(rank - 1) { s += index[a] * strideOf[a] }
        index.withUnsafeMutableBufferPointer { idx in
            for row in range {
                let sp = src + s, dp = dst + row * rowLength
                if innerStride == 1 {
                    if accumulate { for j in 0..<rowLength { dp[j] += sp[j] } }
                    else { dp.update(from: sp, count: rowLength) }
                } else {
                    if accumulate { for j in 0..<rowLength { dp[j] += sp[j * innerStride] } }
                    else { for j in 0..<rowLength { dp[j] = sp[j * innerStride] } }
                }
                var a = rank - 2
                while a >= 0 {
                    idx[a] += 1; s += strideOf[a]
                    if idx[a] < outShape[a] { break }
                    s -= idx[a] * strideOf[a]; idx[a] = 0
                    a -= 1
                }
            }
        }
    }
}

/// Entry `i` along `t`'s first axis, without that axis: one sample of a batch, one view of a sample.
public func item(_ t: Tensor, _ i: Int) -> Tensor { t.sliced(axis: 0, range: i..<(i + 1)).reshaped(Array(t.shape.dropFirst())) }
