/// Gathering rows by index: embedding lookups and index selection.

extension Tensor {
    /// Entries `indices` along `axis` (as `torch.index_select`); indices may repeat. The backward
    /// scatter-adds in index order, so repeated indices accumulate deterministically.
    public func indexSelect(axis: Int, indices: [Int]) -> Tensor {
        let axis = normalizedAxis(axis, rank: rank)
        let dim = shape[axis]
        for i in indices { check(i >= 0 && i < dim, "indexSelect: index \(i) out of range 0..<\(dim) on axis \(axis) of \(shape)") }
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        var outShape = shape
        outShape[axis] = indices.count
        let out = Tensor(uninitializedShape: outShape)
        let n = indices.count
        let src = storage.base, dst = out.storage.base
        indices.withUnsafeBufferPointer { idx in
            Parallel.forRanges(outer * n, grain: Swift.max(1, 32_768 / Swift.max(inner, 1))) { range in
                for row in range {
                    let o = row / n, j = row % n
                    (dst + row * inner).update(from: src + (o * dim + idx[j]) * inner, count: inner)
                }
            }
        }
        let source = self
        return out.recorded(source) { g in
            guard let ga = Tape.shared.gradientBuffer(source.gradSlot) else { return }
            indices.withUnsafeBufferPointer { idx in
                // Split over outer slices when there are several, else over columns: each thread
                // owns its destination elements and adds into them in index order.
                if outer > 1 {
                    Parallel.forRanges(outer, grain: Swift.max(1, 32_768 / Swift.max(n * inner, 1))) { range in
                        for o in range { for j in 0..<n {
                            let s = g + (o * n + j) * inner, d = ga + (o * dim + idx[j]) * inner
                            for c in 0..<inner { d[c] += s[c] }
                        } }
                    }
                } else {
                    Parallel.forRanges(inner, grain: Swift.max(1, 32_768 / Swift.max(n, 1))) { cols in
                        for j in 0..<n {
                            let s = g + j * inner, d = ga + idx[j] * inner
                            for c in cols { d[c] += s[c] }
                        }
                    }
                }
            }
        }
    }
}

/// Rows of `table` ([vocabulary, width]) at `indices`: an embedding lookup, [indices.count, width].
public func embedding(_ table: Tensor, indices: [Int]) -> Tensor {
    check(table.rank == 2, "embedding table must be [vocabulary, width], got \(table.shape)")
    return table.indexSelect(axis: 0, indices: indices)
}
