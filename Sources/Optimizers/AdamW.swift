import Foundation
import Layers
import Tensors

/// Adam with decoupled weight decay (Loshchilov & Hutter; torch.optim.AdamW semantics):
/// p ← p·(1 − lr·λ) − lr·m̂/(√v̂ + ε). One pass over each trainable slice of the flat buffer;
/// weight decay only on parameters of rank ≥ 2 (biases and norm scales are exempt); each
/// segment at its parameters' `learningRateScale` × lr.
public final class AdamW: Optimizer {
    public let store: ParameterStore
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var weightDecay: Float
    /// Updates applied so far (bias correction uses it).
    public private(set) var stepCount = 0
    private let firstMoment: Tensor
    private let secondMoment: Tensor
    private let segments: [ParameterStore.Segment]

    public init(store: ParameterStore, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0.01) {
        self.store = store
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        firstMoment = Tensor(zeros: [store.count])
        secondMoment = Tensor(zeros: [store.count])
        // The decay mask is fixed by the layout: computed once.
        segments = store.trainableSegments()
    }

    public func apply(learningRate lr: Float, gradientScale: Float) {
        stepCount += 1
        let t = Double(stepCount)
        let c1 = Float(1 / (1 - pow(Double(beta1), t)))
        let c2 = Float(1 / (1 - pow(Double(beta2), t)))
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        let p = store.values.storage.base, g = store.gradients.storage.base
        let m = firstMoment.storage.base, v = secondMoment.storage.base
        for seg in segments {
            // A parameter group's learning rate scales the decay too, as in a torch param group.
            let rate = lr * seg.learningRateScale
            let keep = seg.decays ? 1 - rate * weightDecay : 1
            Parallel.forRanges(seg.range.count, grain: 1 << 15) { r in
                let lo = seg.range.lowerBound + r.lowerBound, hi = seg.range.lowerBound + r.upperBound
                for i in lo..<hi {
                    let gi = g[i] * gradientScale
                    let mi = b1 * m[i] + (1 - b1) * gi
                    let vi = b2 * v[i] + (1 - b2) * gi * gi
                    m[i] = mi
                    v[i] = vi
                    p[i] = p[i] * keep - rate * (mi * c1) / ((vi * c2).squareRoot() + eps)
                }
            }
        }
    }

    public var state: [String: Tensor] {
        ["adamw.exp_avg": firstMoment.copy(), "adamw.exp_avg_sq": secondMoment.copy(),
         "adamw.step": Tensor(scalar: Float(stepCount))]
    }

    public func loadState(_ state: [String: Tensor]) throws {
        let m = try OptimizerStateError.check(state, "adamw.exp_avg", count: store.count)
        let v = try OptimizerStateError.check(state, "adamw.exp_avg_sq", count: store.count)
        let s = try OptimizerStateError.check(state, "adamw.step", count: 1)
        firstMoment.storage.base.update(from: m.storage.base, count: store.count)
        secondMoment.storage.base.update(from: v.storage.base, count: store.count)
        stepCount = Int(s.item)
    }
}
