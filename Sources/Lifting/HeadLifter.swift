import Diffusion
import Foundation
import Reconstruction
import Splatting
import Tensors

/// One portrait → a 3D Gaussian head, FaceLift's inference: the multi-view diffusion stages
/// generate the six views around the head, and the GS-LRM reconstructs one Gaussian per pixel
/// of them, the generated views posed at the cameras the diffusion model was trained for (0°
/// elevation, the training rig's radius and field of view, the portrait's azimuth α plus the
/// model's view offsets).
public struct HeadLifter {
    public let diffusion: MultiViewPipeline
    public let reconstructor: GSLRM

    public init(diffusion: MultiViewPipeline, reconstructor: GSLRM) {
        self.diffusion = diffusion
        self.reconstructor = reconstructor
    }

    /// The reconstructor's view size: generated views are resized to it.
    public var resolution: Int { reconstructor.configuration.resolution }

    /// Says what differs from the reconstructor's training when the generated views are not what
    /// it was trained on (it still runs: the GS-LRM takes any number of posed views).
    public var mismatch: String? {
        let trained = reconstructor.configuration.inputViews, given = diffusion.views
        return trained == given ? nil : "the reconstructor was trained on \(trained) input views; the diffusion model gives it \(given)"
    }

    /// The generated views' cameras for a portrait at azimuth `alpha` (degrees), at the
    /// reconstructor's resolution.
    public func cameras(portraitAzimuthDegrees alpha: Double) -> [Camera] {
        diffusion.viewAzimuthsDegrees.map {
            OrbitRig.camera(azimuthDegrees: alpha + $0, elevationDegrees: 0, width: resolution, height: resolution)
        }
    }

    public struct Lift {
        /// The final diffusion stage's views [V, 3, S, S] in [0, 1].
        public var views: Tensor
        /// The low stage's views [V, 3, s, s].
        public var lowViews: Tensor
        /// The views as the reconstructor saw them, [V, 3, R, R], and their cameras.
        public var inputs: Tensor
        public var cameras: [Camera]
        public var gaussians: PixelGaussians
        public var seconds: Seconds
    }

    /// Wall-clock seconds per stage.
    public struct Seconds: Sendable {
        public var lowStage: Double
        public var highStage: Double
        public var reconstruction: Double
        public var total: Double { lowStage + highStage + reconstruction }
    }

    /// Lifts one portrait [1, 3, S, S] in [0, 1] on white, seen from azimuth `alpha` degrees.
    public func lift(_ portrait: Tensor, azimuthDegrees alpha: Double, sampling: MultiViewDiffusionModel.Sampling,
                     rng: inout Philox) throws -> Lift {
        check(portrait.rank == 4 && portrait.shape[0] == 1, "HeadLifter.lift takes one portrait [1, 3, S, S], got \(portrait.shape)")
        let generated = try diffusion.generate(portrait, sampling: sampling, rng: &rng)
        let start = Date()
        let cameras = cameras(portraitAzimuthDegrees: alpha)
        let inputs = Self.resized(generated.views, resolution)
        let gaussians = reconstruct(inputs, cameras: cameras)
        return Lift(views: generated.views, lowViews: generated.lowViews, inputs: inputs, cameras: cameras, gaussians: gaussians,
                    seconds: Seconds(lowStage: generated.lowSeconds, highStage: generated.highSeconds,
                                     reconstruction: Date().timeIntervalSince(start)))
    }

    /// The reconstructor's Gaussians for views [V, 3, R, R] posed at `cameras` (also how the
    /// ground-truth views are lifted for the upper bound).
    public func reconstruct(_ views: Tensor, cameras: [Camera]) -> PixelGaussians {
        Self.reconstruct(views, cameras: cameras, with: reconstructor)
    }

    public static func reconstruct(_ views: Tensor, cameras: [Camera], with model: GSLRM) -> PixelGaussians {
        let r = model.configuration.resolution
        let inputs = resized(views, r)
        return withoutGradients {
            model.reconstruct(images: inputs.reshaped([1, cameras.count, 3, r, r]), cameras: [cameras])
        }
    }

    /// The Gaussians rendered on white at `cameras`: [V, 3, H, W].
    public static func render(_ gaussians: PixelGaussians, at cameras: [Camera]) -> Tensor {
        let white = Tensor([1, 1, 1], shape: [1, 3])
        let rgb = withoutGradients { gaussians.render([cameras], backgrounds: white).rgb }
        return rgb.reshaped(Array(rgb.shape.dropFirst()))
    }

    static func resized(_ images: Tensor, _ side: Int) -> Tensor {
        images.shape[2] == side && images.shape[3] == side ? images : clamp(images.resizedBilinear(height: side, width: side), min: 0, max: 1)
    }
}
