/// Compares the tape's gradients of `f` with central finite differences.
///
/// The scalar checked is L = Σ wᵢ·f(x)ᵢ with fixed random weights w, summed in Double so the
/// difference quotient is not swamped by Float rounding of the sum. Returns the worst error
/// relative to max(|analytic|, |numeric|, `floor`) over every input element.
public func maxGradientError(inputs: [Tensor], epsilon: Float = 1e-2, floor: Double = 1e-2, seed: UInt64 = 7,
                             _ f: ([Tensor]) -> Tensor) -> Double {
    worstGradientError(inputs: inputs, floor: floor, seed: seed, f) { weights, which, i in
        func projected(_ xs: [Tensor]) -> Double {
            let y = withoutGradients { f(xs) }
            var s = 0.0
            for k in 0..<y.count { s += Double(y[flat: k]) * Double(weights[flat: k]) }
            return s
        }
        var plus = inputs, minus = inputs
        plus[which] = inputs[which].copy(); minus[which] = inputs[which].copy()
        plus[which].storage.base[i] += epsilon
        minus[which].storage.base[i] -= epsilon
        return (projected(plus) - projected(minus)) / (2 * Double(epsilon))
    }
}

/// Compares the tape's gradients of `f` with central differences of `reference`, the same
/// function written in Double (inputs and output flattened, in `f`'s element order).
///
/// Differences of a Float `f` lose digits to rounding, and how many depends on the kernel that
/// ran (which OpenBLAS kernel, which Winograd tiling): a bar near that noise passes on one CPU
/// and fails on another. Differences of a Double reference carry no such noise (for a linear
/// `f` they are exact), so the error measured is the gradient's own and the bar can be tight.
public func maxGradientError(inputs: [Tensor], reference: ([[Double]]) -> [Double], epsilon: Double = 1e-3,
                             floor: Double = 1e-2, seed: UInt64 = 7, _ f: ([Tensor]) -> Tensor) -> Double {
    let values = inputs.map { $0.scalars.map(Double.init) }
    return worstGradientError(inputs: inputs, floor: floor, seed: seed, f) { weights, which, i in
        func projected(_ xs: [[Double]]) -> Double {
            let y = reference(xs)
            check(y.count == weights.count, "reference gives \(y.count) values, f \(weights.count)")
            var s = 0.0
            for k in 0..<y.count { s += y[k] * Double(weights[flat: k]) }
            return s
        }
        var plus = values, minus = values
        plus[which][i] += epsilon
        minus[which][i] -= epsilon
        return (projected(plus) - projected(minus)) / (2 * epsilon)
    }
}

/// The tape's gradient of L = Σ wᵢ·f(x)ᵢ against `numeric(w, input, element)`, worst relative error.
private func worstGradientError(inputs: [Tensor], floor: Double, seed: UInt64, _ f: ([Tensor]) -> Tensor,
                                numeric: (_ weights: Tensor, _ input: Int, _ element: Int) -> Double) -> Double {
    var rng = Philox(seed: seed, stream: 99)
    let probe = withoutGradients { f(inputs) }
    let weights = Tensor.uniform(probe.shape, low: -1, high: 1, rng: &rng)

    let tape = Tape.shared
    tape.reset()
    let tracked = inputs.map { $0.requiringGradient() }
    let y = f(tracked)
    tape.backward(y, seed: weights)
    let analytic = tracked.map { tape.gradient(of: $0)?.scalars ?? [Float](repeating: 0, count: $0.count) }
    tape.reset()

    var worst = 0.0
    for (which, x) in inputs.enumerated() {
        for i in 0..<x.count {
            let numeric = numeric(weights, which, i)
            let a = Double(analytic[which][i])
            let err = abs(a - numeric) / max(abs(a), abs(numeric), floor)
            worst = max(worst, err)
        }
    }
    return worst
}
