import Foundation
import Tensors

/// How a parameter is filled from a seed. The fan-based rules match PyTorch's defaults so a
/// freshly built model has the statistics of its PyTorch twin (not the same numbers: the
/// generator differs).
public enum Initializer: Equatable, Sendable {
    case zeros
    case ones
    case constant(Float)
    case normal(mean: Float, std: Float)
    case uniform(low: Float, high: Float)
    /// U(±√(6/(fanIn+fanOut)))·gain.
    case xavierUniform(fanIn: Int, fanOut: Int, gain: Float)
    /// torch.nn.Linear / Conv2d weight default: kaiming_uniform_(a=√5), i.e. U(±1/√fanIn).
    case kaimingUniform(fanIn: Int)
    /// torch.nn.Linear / Conv2d bias default: U(±1/√fanIn).
    case fanInUniform(fanIn: Int)

    /// Fills `count` floats at `p` deterministically from `rng`.
    public func fill(_ p: UnsafeMutablePointer<Float>, count: Int, rng: inout Philox) {
        switch self {
        case .zeros: p.update(repeating: 0, count: count)
        case .ones: p.update(repeating: 1, count: count)
        case .constant(let c): p.update(repeating: c, count: count)
        case .normal(let mean, let std): rng.fillNormal(p, count: count, mean: mean, std: std)
        case .uniform(let low, let high): rng.fillUniform(p, count: count, low: low, high: high)
        case .xavierUniform(let fanIn, let fanOut, let gain):
            let bound = gain * (6 / Float(fanIn + fanOut)).squareRoot()
            rng.fillUniform(p, count: count, low: -bound, high: bound)
        case .kaimingUniform(let fanIn), .fanInUniform(let fanIn):
            // kaiming_uniform_ with a=√5: gain √(2/(1+5)) = √(1/3), bound = gain·√(3/fanIn) = 1/√fanIn.
            let bound = fanIn > 0 ? 1 / Float(fanIn).squareRoot() : 0
            rng.fillUniform(p, count: count, low: -bound, high: bound)
        }
    }
}
