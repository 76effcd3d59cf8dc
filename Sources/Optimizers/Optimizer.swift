import Layers
import Tensors

/// An update rule over a `ParameterStore`'s flat buffers.
public protocol Optimizer: AnyObject {
    var store: ParameterStore { get }
    /// Applies one update with the given learning rate, multiplying every gradient by
    /// `gradientScale` on the fly (how clipping is applied without another pass).
    func apply(learningRate: Float, gradientScale: Float)
    /// Optimizer state as named flat tensors (checkpointing); `loadState` reverses it.
    var state: [String: Tensor] { get }
    func loadState(_ state: [String: Tensor]) throws
}

/// What one guarded step did.
public struct StepReport: Equatable, Sendable {
    public var learningRate: Float
    /// Global L2 norm of the gradients before clipping (non-finite when the step was skipped).
    public var gradientNorm: Float
    /// True when the gradients contained NaN or Inf and no parameter was touched.
    public var skipped: Bool
    public var clipped: Bool
}

extension Optimizer {
    /// The usual training-step tail: measure the global gradient norm (deterministically);
    /// skip the step when it is non-finite; otherwise clip to `maxGradientNorm` (if given)
    /// and apply the update at `schedule`'s rate for `step`.
    @discardableResult
    public func step(_ step: Int, schedule: LearningRateSchedule, maxGradientNorm: Float? = nil) -> StepReport {
        let lr = schedule.learningRate(at: step)
        let norm = globalGradientNorm(store)
        guard norm.isFinite else {
            return StepReport(learningRate: lr, gradientNorm: norm, skipped: true, clipped: false)
        }
        var scale: Float = 1
        if let maxGradientNorm, norm > maxGradientNorm {
            // torch.nn.utils.clip_grad_norm_: coefficient max/(norm+1e-6).
            scale = maxGradientNorm / (norm + 1e-6)
        }
        apply(learningRate: lr, gradientScale: scale)
        return StepReport(learningRate: lr, gradientNorm: norm, skipped: false, clipped: scale < 1)
    }
}

/// Errors restoring optimizer state, naming the offending key.
public struct OptimizerStateError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }

    static func check(_ state: [String: Tensor], _ key: String, count: Int) throws -> Tensor {
        guard let t = state[key] else {
            throw OptimizerStateError(message: "optimizer state is missing '\(key)' (have: \(state.keys.sorted().joined(separator: ", ")))")
        }
        guard t.count == count else {
            throw OptimizerStateError(message: "optimizer state '\(key)' has \(t.count) elements, the model needs \(count)")
        }
        return t
    }
}
