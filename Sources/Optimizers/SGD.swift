import Layers
import Tensors

/// Stochastic gradient descent with momentum (torch.optim.SGD semantics, dampening 0):
/// g ← g + λ·p (coupled decay, rank ≥ 2 only); b ← μ·b + g; p ← p − lr·(nesterov ? g + μ·b : b),
/// lr scaled per segment by its parameters' `learningRateScale`.
public final class SGD: Optimizer {
    public let store: ParameterStore
    public var momentum: Float
    public var weightDecay: Float
    public var nesterov: Bool
    private let velocity: Tensor
    private let segments: [ParameterStore.Segment]

    public init(store: ParameterStore, momentum: Float = 0.9, weightDecay: Float = 0, nesterov: Bool = false) {
        self.store = store
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        velocity = Tensor(zeros: [store.count])
        segments = store.trainableSegments()
    }

    public func apply(learningRate lr: Float, gradientScale: Float) {
        let p = store.values.storage.base, g = store.gradients.storage.base, b = velocity.storage.base
        let mu = momentum, nesterov = nesterov
        for seg in segments {
            let wd = seg.decays ? weightDecay : 0, rate = lr * seg.learningRateScale
            Parallel.forRanges(seg.range.count, grain: 1 << 15) { r in
                for i in (seg.range.lowerBound + r.lowerBound)..<(seg.range.lowerBound + r.upperBound) {
                    let gi = g[i] * gradientScale + wd * p[i]
                    let bi = mu * b[i] + gi
                    b[i] = bi
                    p[i] -= rate * (nesterov ? gi + mu * bi : bi)
                }
            }
        }
    }

    public var state: [String: Tensor] { ["sgd.momentum_buffer": velocity.copy()] }

    public func loadState(_ state: [String: Tensor]) throws {
        let b = try OptimizerStateError.check(state, "sgd.momentum_buffer", count: store.count)
        velocity.storage.base.update(from: b.storage.base, count: store.count)
    }
}
