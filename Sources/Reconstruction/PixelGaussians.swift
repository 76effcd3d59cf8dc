import Foundation
import Splatting
import Tensors

/// One Gaussian per input pixel of each sample, as the rasterizer takes them (before its
/// activations), decoded from the network's raw outputs:
/// - position along the pixel's ray at |o| + halfRange·(2σ(x) − 1), so depth is bounded around
///   the camera distance and every Gaussian stays where its pixel can see it;
/// - log-scale min(x + scaleBias, maxLogScale); opacity logit x + opacityBias;
/// - rotation x + (1, 0, 0, 0), so an untrained model starts near the identity rather than at the
///   rasterizer's zero-norm fallback; colour as degree-0 SH.
public struct PixelGaussians {
    /// [B, N, 3]
    public let means: Tensor
    /// [B, N, 4] (w, x, y, z), unnormalised.
    public let quaternions: Tensor
    /// [B, N, 3]
    public let logScales: Tensor
    /// [B, N]
    public let opacityLogits: Tensor
    /// [B, N, 3]
    public let shDC: Tensor

    public var samples: Int { means.shape[0] }
    public var count: Int { means.shape[1] }

    /// raw: [B, N, 12] channels (depth, SH DC ×3, scale ×3, rotation ×4, opacity).
    public init(raw: Tensor, rays: PixelRays, configuration c: GSLRMConfiguration) {
        check(raw.rank == 3 && raw.shape[2] == GSLRMConfiguration.gaussianChannels && raw.shape[1] == rays.origins.shape[1],
              "raw Gaussians \(raw.shape) do not match \(rays.origins.shape[1]) pixel rays")
        let (b, n) = (raw.shape[0], raw.shape[1])
        func channels(_ r: Range<Int>) -> Tensor { raw.sliced(axis: 2, range: r) }
        let distance = rays.originDistances + (sigmoid(channels(0..<1)) * 2 - 1) * c.depthHalfRange
        means = rays.origins + distance * rays.directions
        shDC = channels(1..<4)
        logScales = clamp(channels(4..<7) + c.scaleBias, max: c.maxLogScale)
        quaternions = channels(7..<11) + Tensor([1, 0, 0, 0], shape: [4])
        opacityLogits = (channels(11..<12) + c.opacityBias).reshaped([b, n])
    }

    /// Renders every sample into its own `cameras` (B lists of V, one image size), each on its own
    /// background. The rasterizer composites on one constant colour, so this renders on black and
    /// adds background·(1 − α): the same image, and the gradient through α stays exact.
    /// Returns RGB [B, V, 3, H, W] and alpha [B, V, 1, H, W].
    public func render(_ cameras: [[Camera]], backgrounds: Tensor) -> (rgb: Tensor, alpha: Tensor) {
        check(backgrounds.shape == [samples, 3], "backgrounds must be [\(samples), 3], got \(backgrounds.shape)")
        let images = GaussianRasterizer.render(means: means, quaternions: quaternions, logScales: logScales,
                                               opacityLogits: opacityLogits, shDC: shDC, cameras: cameras,
                                               background: [0, 0, 0])
        let behind = backgrounds.reshaped([samples, 1, 3, 1, 1]) * (1 - images.alpha)
        return (images.rgb + behind, images.alpha)
    }

    /// Sample `b`'s Gaussians as a scene for PLY files, keeping those with opacity ≥ `minOpacity`.
    public func scene(sample b: Int, minOpacity: Float = 0) -> GaussianScene {
        let n = count
        let minLogit = minOpacity > 0 ? Foundation.log(minOpacity / (1 - minOpacity)) : -Float.infinity
        let keep = (0..<n).filter { opacityLogits[flat: b * n + $0] >= minLogit }
        func rows(_ t: Tensor, _ width: Int) -> Tensor {
            let out = Tensor(uninitializedShape: [keep.count, width])
            let src = t.storage.base + b * n * width, dst = out.storage.base
            for (i, j) in keep.enumerated() { (dst + i * width).update(from: src + j * width, count: width) }
            return out
        }
        return GaussianScene(means: rows(means, 3), quaternions: rows(quaternions, 4), logScales: rows(logScales, 3),
                             opacityLogits: rows(opacityLogits, 1).viewing(as: [keep.count]), shDC: rows(shDC, 3))
    }
}
