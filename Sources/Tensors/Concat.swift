/// Joining tensors: `concat` along an existing axis, `stack` along a new one.

/// Tensors joined along `axis`; every other dimension must match.
public func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
    check(!tensors.isEmpty, "concat of no tensors")
    let first = tensors[0]
    let axis = normalizedAxis(axis, rank: first.rank)
    for t in tensors {
        check(t.rank == first.rank && t.shape.enumerated().allSatisfy { $0.offset == axis || $0.element == first.shape[$0.offset] },
              "concat(axis: \(axis)): shape \(t.shape) does not match \(first.shape)")
    }
    var outShape = first.shape
    outShape[axis] = tensors.reduce(0) { $0 + $1.shape[axis] }
    let out = Tensor(uninitializedShape: outShape)
    let zero = [Int](repeating: 0, count: first.rank)
    var origins: [[Int]] = []
    var offset = 0
    for t in tensors {
        var origin = zero
        origin[axis] = offset
        origins.append(origin)
        copyBox(t.shape, from: t.storage.base, shape: t.shape, at: zero, to: out.storage.base, shape: outShape, at: origin,
                accumulate: false)
        offset += t.shape[axis]
    }
    return out.recorded(anyTracked: tensors.contains { $0.isTracked }) { g in
        for (t, origin) in zip(tensors, origins) {
            if let gt = Tape.shared.gradientBuffer(t.gradSlot) {
                copyBox(t.shape, from: g, shape: outShape, at: origin, to: gt, shape: t.shape, at: zero, accumulate: true)
            }
        }
    }
}

/// Equal-shaped tensors stacked along a new axis `axis` (0...rank).
public func stack(_ tensors: [Tensor], axis: Int) -> Tensor {
    check(!tensors.isEmpty, "stack of no tensors")
    let shape = tensors[0].shape
    let axis = axis < 0 ? axis + shape.count + 1 : axis
    check(axis >= 0 && axis <= shape.count, "stack axis \(axis) out of range for rank \(shape.count)")
    for t in tensors { check(t.shape == shape, "stack: shape \(t.shape) differs from \(shape)") }
    var expanded = shape
    expanded.insert(1, at: axis)
    return concat(tensors.map { $0.reshaped(expanded) }, axis: axis)
}
