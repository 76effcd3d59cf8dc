import Tensors

/// Classifier-free guidance (Ho & Salimans): the model is evaluated with and without its
/// condition and the prediction pushed away from the unconditional one,
/// ŷ = ŷ_uncond + s·(ŷ_cond − ŷ_uncond), in whatever quantity the model predicts (FaceLift
/// guides v with s = 3). s = 1 is the conditional prediction; s = 0 the unconditional one.
public struct ClassifierFreeGuidance: Equatable, Sendable {
    public var scale: Float

    public init(scale: Float) { self.scale = scale }

    /// Whether the unconditional pass is needed at all (diffusers skips it when s ≤ 1).
    public var isActive: Bool { scale > 1 }

    public func callAsFunction(unconditional: Tensor, conditional: Tensor) -> Tensor {
        check(unconditional.shape == conditional.shape,
                     "guidance: unconditional \(unconditional.shape) and conditional \(conditional.shape) differ")
        return unconditional + (conditional - unconditional) * scale
    }

    /// The guided prediction from one batched pass over [unconditional; conditional] along the
    /// leading axis (diffusers' `noise_pred.chunk(2)` after `torch.cat([latents] * 2)`).
    public func callAsFunction(stacked: Tensor) -> Tensor {
        let rows = stacked.shape.first ?? 0
        check(rows % 2 == 0 && rows > 0, "guidance: a stacked batch needs an even number of rows, got \(stacked.shape)")
        return self(unconditional: stacked.sliced(axis: 0, range: 0..<rows / 2),
                    conditional: stacked.sliced(axis: 0, range: rows / 2..<rows))
    }
}
