import Checkpoints
import Foundation
import Splatting

/// Everything that fixes a GS-LRM's shape and how its outputs become Gaussians. It travels inside
/// each checkpoint's safetensors metadata (`gslrm_config`), so inference needs no recipe; older
/// checkpoints keep reading as fields are added (`ModelConfiguration`).
public struct GSLRMConfiguration: ModelConfiguration {
    /// Version 1: the fields below (checkpoints written before versions existed read as 1).
    public static let version = 1

    /// Transformer width (token dimension).
    public var width = 256
    /// Number of transformer blocks.
    public var layers = 6
    /// Attention heads; `width` must divide by it.
    public var heads = 4
    /// Pixels per patch side; each token decodes patchSize² Gaussians.
    public var patchSize = 8
    /// Square image size the model was trained at; inputs are resized to it.
    public var resolution = 64
    /// Input views the model was trained with (inference's default).
    public var inputViews = 4
    /// Which 6-channel ray map accompanies the RGB of each input pixel.
    public var plucker = PluckerLayout.momentDirection
    /// A Gaussian lies along its pixel's ray at distance |camera centre| + halfRange·(2σ(x) − 1).
    public var depthHalfRange: Float = 1.5
    /// log-scale = min(x + scaleBias, maxLogScale): exp(x − 2.3) clamped at exp(−1.2), as FaceLift.
    public var scaleBias: Float = -2.3
    public var maxLogScale: Float = -1.2
    /// opacity = σ(x + opacityBias): new Gaussians start mostly transparent.
    public var opacityBias: Float = -2

    public enum PluckerLayout: String, Codable, Sendable, CaseIterable {
        /// (o × d, d)
        case momentDirection = "moment_direction"
        /// FaceLift's variant (d, point on the ray nearest the origin).
        case directionNearestPoint = "direction_nearest_point"

        /// The ray-map layout the rasterizer side names this by.
        public var rayLayout: PluckerRays.Layout {
            switch self {
            case .momentDirection: return .momentDirection
            case .directionNearestPoint: return .directionNearestPoint
            }
        }
    }

    public init() {}

    /// Per-pixel input channels: RGB in [−1, 1] and a 6-channel ray map.
    public static let inputChannels = 9
    /// Per-pixel outputs: depth 1, SH DC 3, scale 3, rotation 4, opacity 1.
    public static let gaussianChannels = 12

    public var headDimension: Int { width / heads }

    /// Why this configuration cannot build a model, or nil.
    public var problem: String? {
        if width < 1 || layers < 0 || heads < 1 || patchSize < 1 || resolution < 1 || inputViews < 1 {
            return "sizes must be positive (width \(width), layers \(layers), heads \(heads), patch \(patchSize), resolution \(resolution), input views \(inputViews))"
        }
        if width % heads != 0 { return "width \(width) is not divisible by heads \(heads)" }
        if resolution % patchSize != 0 { return "resolution \(resolution) is not divisible by patch size \(patchSize)" }
        if !(depthHalfRange > 0) { return "depth half-range must be positive, got \(depthHalfRange)" }
        return nil
    }

    /// The safetensors metadata key that holds `json()`.
    public static let metadataKey = "gslrm_config"
}
