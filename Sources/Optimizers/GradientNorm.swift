import Layers
import Tensors

/// L2 norm of all gradients in the store's flat buffer. Squares are summed in Double per
/// fixed block and the blocks combined in order, so the result is bit-identical whatever the
/// thread count. Non-finite exactly when some gradient is NaN or ±Inf (Double cannot
/// overflow on squares of finite Floats).
public func globalGradientNorm(_ store: ParameterStore) -> Float {
    Float(squaredNorm(store.gradients.storage.base, count: store.count).squareRoot())
}

/// Σ xᵢ², deterministic (see `globalGradientNorm`).
public func squaredNorm(_ x: UnsafePointer<Float>, count n: Int) -> Double {
    let blocks = Parallel.blockCount(n)
    var partial = [Double](repeating: 0, count: blocks)
    partial.withUnsafeMutableBufferPointer { part in
        let part = part.baseAddress!
        Parallel.forRanges(blocks, grain: 16) { r in
            for b in r {
                let lo = b * Parallel.reductionBlock, hi = min(n, lo + Parallel.reductionBlock)
                var acc = SIMD8<Double>()
                var i = lo
                while i + 8 <= hi {
                    let v = SIMD8<Double>(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self))
                    acc += v * v
                    i += 8
                }
                var s = acc.sum()
                while i < hi { s += Double(x[i]) * Double(x[i]); i += 1 }
                part[b] = s
            }
        }
    }
    return partial.reduce(0, +)
}
