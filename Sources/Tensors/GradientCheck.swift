/// Compares the tape's gradients of `f` with central finite differences.
///
/// The scalar checked is L = Σ wᵢ·f(x)ᵢ with fixed random weights w, summed in Double so the
/// difference quotient is not swamped by Float rounding of the sum. Returns the worst error
/// relative to max(|analytic|, |numeric|, `floor`) over every input element.
public func maxGradientError(inputs: [Tensor], epsilon: Float = 1e-2, floor: Double = 1e-2, seed: UInt64 = 7,
                             _ f: ([Tensor]) -> Tensor) -> Double {
    var rng = Philox(seed: seed, stream: 99)
    let probe = withoutGradients { f(inputs) }
    let weights = Tensor.uniform(probe.shape, low: -1, high: 1, rng: &rng)

    func projected(_ xs: [Tensor]) -> Double {
        let y = withoutGradients { f(xs) }
        var s = 0.0
        for i in 0..<y.count { s += Double(y[flat: i]) * Double(weights[flat: i]) }
        return s
    }

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
            var plus = inputs, minus = inputs
            plus[which] = x.copy(); minus[which] = x.copy()
            plus[which].storage.base[i] += epsilon
            minus[which].storage.base[i] -= epsilon
            let numeric = (projected(plus) - projected(minus)) / (2 * Double(epsilon))
            let a = Double(analytic[which][i])
            let err = abs(a - numeric) / max(abs(a), abs(numeric), floor)
            worst = max(worst, err)
        }
    }
    return worst
}
