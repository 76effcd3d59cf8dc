import Foundation
import Tensors

/// The multi-view diffusion stages chained as at inference: the low stage generates the views at
/// its size from the portrait (resized to it); with a high stage, those views, upsampled in pixel
/// space and encoded, are j̄ of its two-stage residual process, conditioned on the portrait at
/// full size. Both stages work in the latent space of one VAE. Identity-guided stages take the
/// portrait's embedding by `identity`, the frozen identity encoder they were trained with.
public struct MultiViewPipeline {
    public let low: MultiViewDiffusionModel
    public let high: MultiViewDiffusionModel?
    public let vae: AutoencoderKL
    /// Images [B, 3, S, S] in [0, 1] → identity embeddings [B, D].
    public typealias IdentityEmbedding = (Tensor) -> Tensor
    public let identity: IdentityEmbedding?

    /// Checks that the stages fit together: `low` is a low stage, `high` a high stage continuing
    /// it (its low-resolution size is the low stage's image size, the same views).
    public init(low: MultiViewDiffusionModel, high: MultiViewDiffusionModel?, vae: AutoencoderKL, identity: IdentityEmbedding? = nil) throws {
        guard low.configuration.stage == .low else {
            throw MultiViewPipelineError("the first stage is a \(low.configuration.stage.rawValue)-stage model; give the low stage first "
                                         + "and the high stage second")
        }
        if let high {
            guard high.configuration.stage == .high else {
                throw MultiViewPipelineError("the second stage is a low-stage model (\(high.configuration.imageSize)² views, no two-stage "
                                             + "process); it must be a stage: high model")
            }
            guard high.configuration.lowResolutionSize == low.configuration.imageSize,
                  high.configuration.viewAzimuthsDegrees == low.configuration.viewAzimuthsDegrees else {
                throw MultiViewPipelineError("the high stage continues a low stage at \(high.configuration.lowResolutionSize ?? 0)² with views "
                                             + "\(high.configuration.viewAzimuthsDegrees); the low stage generates "
                                             + "\(low.configuration.imageSize)² views \(low.configuration.viewAzimuthsDegrees)")
            }
        }
        let guided = [low, high].compactMap { $0 }.filter { $0.configuration.identityDimension != nil }
        if !guided.isEmpty && identity == nil {
            throw MultiViewPipelineError("the \(guided.map { $0.configuration.stage.rawValue }.joined(separator: " and ")) stage is identity-guided "
                                         + "and needs its identity encoder")
        }
        self.low = low
        self.high = high
        self.vae = vae
        self.identity = identity
    }

    /// The final stage's view size.
    public var imageSize: Int { (high ?? low).configuration.imageSize }
    public var viewAzimuthsDegrees: [Double] { low.configuration.viewAzimuthsDegrees }
    public var views: Int { low.views }

    public struct Output {
        /// [B·V, 3, S, S] in [0, 1], S = `imageSize`.
        public var views: Tensor
        /// The low stage's views [B·V, 3, s, s].
        public var lowViews: Tensor
        public var lowSeconds: Double
        public var highSeconds: Double
    }

    /// The views of portraits [B, 3, S, S] in [0, 1] (any square size S: resized to each stage's).
    public func generate(_ portraits: Tensor, sampling: MultiViewDiffusionModel.Sampling, rng: inout Philox) throws -> Output {
        check(portraits.rank == 4 && portraits.shape[1] == 3 && portraits.shape[2] == portraits.shape[3],
              "MultiViewPipeline: portraits \(portraits.shape), expected [B, 3, S, S]")
        func resized(_ images: Tensor, _ side: Int) -> Tensor {
            images.shape[2] == side ? images : clamp(images.resizedBilinear(height: side, width: side), min: 0, max: 1)
        }
        let start = Date()
        let lowSide = low.configuration.imageSize
        let portraitEmbeddings = self.identity.map { embed in withoutGradients { embed(portraits) } }
        func embeddings(of stage: MultiViewDiffusionModel) -> Tensor? { stage.configuration.identityDimension == nil ? nil : portraitEmbeddings }
        let lowViews = try withoutGradients {
            let condition = vae.scaledLatents(ofImages: resized(portraits, lowSide))
            return vae.images(fromScaledLatents: try low.sample(condition: condition, identity: embeddings(of: low), sampling: sampling, rng: &rng))
        }
        let lowDone = Date()
        guard let high else {
            return Output(views: lowViews, lowViews: lowViews, lowSeconds: lowDone.timeIntervalSince(start), highSeconds: 0)
        }
        let side = high.configuration.imageSize
        let views = try withoutGradients {
            let latents = try high.sample(condition: vae.scaledLatents(ofImages: resized(portraits, side)), identity: embeddings(of: high),
                                          lowResolution: vae.scaledLatents(ofImages: resized(lowViews, side)), sampling: sampling, rng: &rng)
            return vae.images(fromScaledLatents: latents)
        }
        return Output(views: views, lowViews: lowViews, lowSeconds: lowDone.timeIntervalSince(start),
                      highSeconds: Date().timeIntervalSince(lowDone))
    }
}

/// Stages that do not chain: says which and why.
public struct MultiViewPipelineError: Error, CustomStringConvertible, LocalizedError {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
    public var errorDescription: String? { message }
}
