import Tensors

/// The reconstructor's image loss: MSE on RGB plus `ssimWeight`·(1 − SSIM), over every
/// supervision view. (FaceLift adds a VGG perceptual term; Relief has no VGG weights to load yet,
/// so that term is off and the recipes say so.)
public struct ReconstructionLoss {
    public var ssimWeight: Float

    public init(ssimWeight: Float = 0) { self.ssimWeight = ssimWeight }

    /// rendered, target: [B, V, 3, H, W] in [0, 1]. Returns the loss and its parts for the log.
    public func callAsFunction(_ rendered: Tensor, _ target: Tensor) -> (loss: Tensor, parts: [String: Double]) {
        precondition(rendered.shape == target.shape && rendered.rank == 5,
                     "reconstruction loss: rendered \(rendered.shape) and target \(target.shape) must be one [B, V, 3, H, W]")
        let mse = mseLoss(rendered, target)
        var parts = ["mse": Double(mse[flat: 0])]
        guard ssimWeight > 0 else { return (mse, parts) }
        let s = rendered.shape, planes = [s[0] * s[1], s[2], s[3], s[4]]
        let ssim = ssimLoss(rendered.reshaped(planes), target.reshaped(planes))
        parts["ssim"] = 1 - Double(ssim[flat: 0])
        return (mse + ssim * ssimWeight, parts)
    }
}
