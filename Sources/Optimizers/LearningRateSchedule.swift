import Foundation
import Tensors

/// Learning rate as a function of the (0-based) optimizer step.
public enum LearningRateSchedule: Equatable, Codable, Sendable {
    case constant(Float)
    /// Linear ramp from 0 (exclusive) to `peak` over `warmupSteps`, then constant.
    case linearWarmup(peak: Float, warmupSteps: Int)
    /// Linear warm-up to `peak`, then half-cosine decay to `floor` at `totalSteps` (and `floor` after).
    case cosine(peak: Float, warmupSteps: Int, totalSteps: Int, floor: Float)
    /// `values[i]` from `boundaries[i-1]` (inclusive) to `boundaries[i]`; `values.count == boundaries.count + 1`.
    case piecewiseConstant(boundaries: [Int], values: [Float])

    public func learningRate(at step: Int) -> Float {
        switch self {
        case .constant(let lr):
            return lr
        case .linearWarmup(let peak, let warmup):
            return LearningRateSchedule.warm(peak, step, warmup)
        case .cosine(let peak, let warmup, let total, let floor):
            if step < warmup { return LearningRateSchedule.warm(peak, step, warmup) }
            let span = max(1, total - warmup)
            let t = min(1, Double(step - warmup) / Double(span))
            return floor + (peak - floor) * Float(0.5 * (1 + cos(Double.pi * t)))
        case .piecewiseConstant(let boundaries, let values):
            check(values.count == boundaries.count + 1, "piecewise schedule needs one more value than boundaries")
            var i = 0
            while i < boundaries.count && step >= boundaries[i] { i += 1 }
            return values[i]
        }
    }

    /// Step s of a warm-up of w steps runs at (s+1)/w of the peak, so step 0 already learns.
    private static func warm(_ peak: Float, _ step: Int, _ warmup: Int) -> Float {
        step < warmup ? peak * Float(step + 1) / Float(warmup) : peak
    }
}
