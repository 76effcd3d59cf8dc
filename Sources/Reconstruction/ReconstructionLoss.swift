import Tensors

/// The reconstructor's image loss over every supervision view, as FaceLift's `LossComputer`:
/// MSE on RGB, plus `ssimWeight`·(1 − SSIM), plus `perceptualWeight`·the VGG19 perceptual loss
/// when its weights were loaded (there are none to download here: the term is off unless a
/// weights file is given).
public struct ReconstructionLoss {
    public var ssimWeight: Float
    public var perceptualWeight: Float
    public var perceptual: PerceptualLoss?

    public init(ssimWeight: Float = 0, perceptualWeight: Float = 0, perceptual: PerceptualLoss? = nil) {
        check(perceptualWeight == 0 || perceptual != nil, "a perceptual weight needs the perceptual loss's VGG weights")
        self.ssimWeight = ssimWeight
        self.perceptualWeight = perceptualWeight
        self.perceptual = perceptual
    }

    /// What the loss adds up, for logs.
    public var summary: String {
        var terms = ["MSE"]
        if ssimWeight > 0 { terms.append("\(ssimWeight)·(1 − SSIM)") }
        terms.append(perceptualWeight > 0 ? "\(perceptualWeight)·perceptual (VGG19)" : "no perceptual term (perceptual_weight 0)")
        return terms.joined(separator: " + ")
    }

    /// rendered, target: [B, V, 3, H, W] in [0, 1]. Returns the loss and its parts for the log.
    public func callAsFunction(_ rendered: Tensor, _ target: Tensor) -> (loss: Tensor, parts: [String: Double]) {
        check(rendered.shape == target.shape && rendered.rank == 5,
              "reconstruction loss: rendered \(rendered.shape) and target \(target.shape) must be one [B, V, 3, H, W]")
        var loss = mseLoss(rendered, target)
        var parts = ["mse": Double(loss[flat: 0])]
        let s = rendered.shape, planes = [s[0] * s[1], s[2], s[3], s[4]]
        if ssimWeight > 0 {
            let ssim = ssimLoss(rendered.reshaped(planes), target.reshaped(planes))
            parts["ssim"] = 1 - Double(ssim[flat: 0])
            loss = loss + ssim * ssimWeight
        }
        if perceptualWeight > 0, let perceptual {
            let term = perceptual(rendered.reshaped(planes), target.reshaped(planes))
            parts["perceptual"] = Double(term[flat: 0])
            loss = loss + term * perceptualWeight
        }
        return (loss, parts)
    }
}
