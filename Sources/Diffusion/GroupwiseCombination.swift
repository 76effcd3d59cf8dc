import Tensors

/// One term c_g·x of a `groupwiseCombination`: a coefficient per group of leading rows.
struct GroupwiseTerm {
    let coefficients: [Float]
    let tensor: Tensor
    init(_ coefficients: [Float], _ tensor: Tensor) { self.coefficients = coefficients; self.tensor = tensor }
}

/// out = (c¹_g·x¹ + c²_g·x² + …) / d_g, where g is the group of leading rows an element is in:
/// the leading axis of size B splits into G = `coefficients.count` consecutive groups of B/G rows
/// (G = B: one coefficient per sample; G = B/6: one per FaceLift sample of six views; G = 1:
/// one for all). Every schedule formula (noising, velocity, the prediction conversions, a
/// sampler step) is one of these.
///
/// Rounds as PyTorch evaluates `(a * x + b * y) / d` with per-sample scalars: each product
/// rounded, the sum left to right, then the division — so diffusers' results are reproduced to
/// the last bit or nearly. One pass, no temporaries; the backward hands each tracked term
/// g·c_g/d_g.
func groupwiseCombination(_ terms: [GroupwiseTerm], dividedBy divisors: [Float]? = nil) -> Tensor {
    check(!terms.isEmpty, "combining no tensors")
    let shape = terms[0].tensor.shape, groups = terms[0].coefficients.count
    for term in terms {
        check(term.tensor.shape == shape, "combining tensors of shapes \(shape) and \(term.tensor.shape)")
        check(term.coefficients.count == groups, "\(term.coefficients.count) coefficients for \(groups) groups")
    }
    check(divisors == nil || divisors!.count == groups, "\(divisors?.count ?? 0) divisors for \(groups) groups")
    let rows = shape.first ?? 1
    check(groups >= 1 && rows % groups == 0,
                 "\(groups) timesteps for a batch of \(rows) rows: each timestep must cover the same number of leading rows")
    let count = elementCount(shape), groupSize = count / groups
    let out = Tensor(uninitializedShape: shape)
    let o = out.storage.base
    let sources = terms.map { $0.tensor.storage.base }
    Parallel.forRanges(count, grain: 16_384) { range in
        forEachGroupSegment(range, groupSize: groupSize) { g, segment in
            let c0 = terms[0].coefficients[g], x0 = sources[0]
            for i in segment { o[i] = c0 * x0[i] }
            for k in 1..<terms.count {
                let c = terms[k].coefficients[g], x = sources[k]
                for i in segment { o[i] = o[i] + c * x[i] }
            }
            if let d = divisors?[g] { for i in segment { o[i] = o[i] / d } }
        }
    }
    let inputs = terms.map(\.tensor)
    return out.recorded(anyTracked: inputs.contains { $0.isTracked }) { gradient in
        for term in terms {
            guard let (gx, accumulate) = Tape.shared.gradientDestination(term.tensor.gradSlot) else { continue }
            Parallel.forRanges(count, grain: 16_384) { range in
                forEachGroupSegment(range, groupSize: groupSize) { g, segment in
                    let scale = term.coefficients[g] / (divisors?[g] ?? 1)
                    if accumulate { for i in segment { gx[i] += scale * gradient[i] } }
                    else { for i in segment { gx[i] = scale * gradient[i] } }
                }
            }
        }
    }
}

/// Splits `range` at group boundaries: `body(g, piece)` for each piece inside group g.
@inline(__always)
private func forEachGroupSegment(_ range: Range<Int>, groupSize: Int, _ body: (Int, Range<Int>) -> Void) {
    guard groupSize > 0 else { return }
    var start = range.lowerBound
    while start < range.upperBound {
        let g = start / groupSize
        let end = min(range.upperBound, (g + 1) * groupSize)
        body(g, start..<end)
        start = end
    }
}
