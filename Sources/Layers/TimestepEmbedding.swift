import Foundation
import Tensors

/// Sinusoidal embedding of (possibly fractional) timesteps, as diffusers' `get_timestep_embedding`:
/// frequencies fᵢ = exp(−ln(maxPeriod)·i/(half − downscaleFreqShift)), i < half = dim/2;
/// the row is [sin(s·t·f), cos(s·t·f)] (or [cos, sin] with `flipSinToCos`), zero-padded to an odd `dimension`.
/// A constant of the timesteps, so not recorded for autodiff. Computed in Double, rounded once.
public func sinusoidalTimestepEmbedding(_ timesteps: [Float], dimension: Int, flipSinToCos: Bool = false,
                                        downscaleFreqShift: Float = 1, scale: Float = 1,
                                        maxPeriod: Float = 10_000) -> Tensor {
    let half = dimension / 2
    let out = Tensor(zeros: [timesteps.count, dimension])
    let p = out.storage.base
    let denominator = Double(half) - Double(downscaleFreqShift)
    for (row, t) in timesteps.enumerated() {
        for i in 0..<half {
            let frequency = exp(-log(Double(maxPeriod)) * Double(i) / denominator)
            let angle = Double(scale) * Double(t) * frequency
            let (first, second) = flipSinToCos ? (cos(angle), sin(angle)) : (sin(angle), cos(angle))
            p[row * dimension + i] = Float(first)
            p[row * dimension + half + i] = Float(second)
        }
    }
    return out
}

/// diffusers' `TimestepEmbedding`: `linear_1` → SiLU → `linear_2`.
public final class TimestepEmbedding: Module {
    public let linear1: Linear
    public let linear2: Linear

    public init(inChannels: Int, embeddingDimension: Int, outDimension: Int? = nil) {
        linear1 = Linear(inChannels, embeddingDimension)
        linear2 = Linear(embeddingDimension, outDimension ?? embeddingDimension)
    }

    public var namedChildren: [(String, any Module)] { [("linear_1", linear1), ("linear_2", linear2)] }

    public func callAsFunction(_ x: Tensor) -> Tensor { linear2(silu(linear1(x))) }
}
