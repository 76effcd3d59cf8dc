import Foundation
import Layers
import Tensors

/// The multi-view latent diffusion model: one condition view in, V views of the same head out
/// (FaceLift's six by default). A `UNet2DConditionModel` (diffusers' names, under `unet.`) whose
/// self-attention spans the views, conditioned three ways on the condition view's scaled VAE
/// latent c (/work/shared/DIFFUSION.md):
/// - c concatenated to every view's noisy latent (`conv_in` takes 2·z channels, noisy first);
/// - the `ConditionEncoder`'s global embedding of c, with each view's camera features (sin/cos
///   of k·azimuth relative to the condition), as the UNet's `class_labels` (class embedding
///   type `projection`, added to the time embedding);
/// - the encoder's tokens of c as every view's cross-attention context.
/// With identity guidance (`identityDimension`, ID-TS), a frozen identity encoder's embedding of
/// the condition image joins the class labels and, projected (`identity_projection`), is one
/// more cross-attention token; it is dropped with the embedding for classifier-free guidance.
/// One timestep per sample, shared by its views. Classifier-free guidance drops the embedding
/// (global and tokens) and/or the latent per sample; the camera features are never dropped, so
/// the unconditional model still knows which view it draws.
public final class MultiViewDiffusionModel: Module {
    public let configuration: MultiViewDiffusionConfiguration
    public let unet: UNet2DConditionModel
    public let conditionEncoder: ConditionEncoder
    public let identityProjection: Linear?

    public init(_ configuration: MultiViewDiffusionConfiguration, unet unetConfiguration: UNet2DConditionConfiguration) throws {
        try configuration.validate()
        let z = configuration.conditionEncoder.latentChannels
        func fail(_ key: String, _ message: String) -> DiffusionConfigurationError { .init(key: key, message: message) }
        guard unetConfiguration.inChannels == 2 * z, unetConfiguration.outChannels == z else {
            throw fail("unet.in_channels", "is \(unetConfiguration.inChannels) (out_channels \(unetConfiguration.outChannels)); "
                       + "a multi-view UNet over \(z)-channel latents takes \(2 * z) (noisy + condition) and returns \(z)")
        }
        guard unetConfiguration.classEmbedType == "projection",
              unetConfiguration.projectionClassEmbeddingsInputDim == configuration.classLabelDimension else {
            throw fail("unet.projection_class_embeddings_input_dim",
                       "is \(unetConfiguration.projectionClassEmbeddingsInputDim.map(String.init) ?? "unset") with class_embed_type "
                       + "\(unetConfiguration.classEmbedType ?? "none"); the model needs 'projection' with "
                       + "\(configuration.classLabelDimension) (global embedding + camera features)")
        }
        guard unetConfiguration.crossAttentionDim == configuration.conditionEncoder.tokenDimension else {
            throw fail("unet.cross_attention_dim", "is \(unetConfiguration.crossAttentionDim); the condition tokens are "
                       + "\(configuration.conditionEncoder.tokenDimension) wide")
        }
        self.configuration = configuration
        unet = UNet2DConditionModel(configuration: unetConfiguration)
        conditionEncoder = ConditionEncoder(configuration.conditionEncoder)
        identityProjection = configuration.identityDimension.map { Linear($0, configuration.conditionEncoder.tokenDimension) }
    }

    public var namedChildren: [(String, any Module)] {
        [("unet", unet), ("condition_encoder", conditionEncoder)] + (identityProjection.map { [("identity_projection", $0)] } ?? [])
    }

    public var views: Int { configuration.views }

    /// [V, 2·frequencies]: sin(k·a), cos(k·a) for each view's relative azimuth a, k = 1…F.
    public var cameraFeatures: Tensor {
        let f = configuration.cameraFrequencies
        var values: [Float] = []
        for degrees in configuration.viewAzimuthsDegrees {
            let a = degrees * .pi / 180
            values += (1...f).map { Float(sin(Double($0) * a)) } + (1...f).map { Float(cos(Double($0) * a)) }
        }
        return Tensor(values, shape: [views, 2 * f])
    }

    /// Which conditioning each sample keeps (classifier-free guidance drops per sample).
    public struct Keep: Equatable, Sendable {
        public var embedding: Bool
        public var latent: Bool
        public init(embedding: Bool, latent: Bool) { self.embedding = embedding; self.latent = latent }
        public static let all = Keep(embedding: true, latent: true)
        public static let none = Keep(embedding: false, latent: false)
    }

    /// The predicted v for noisy latents [B·V, z, h, w] (each sample's V views contiguous) at one
    /// timestep per sample, conditioned on the scaled condition latents [B, z, h, w] and, with
    /// identity guidance, the condition images' identity embeddings [B, identityDimension].
    public func velocity(noisy: Tensor, timesteps: [Int], condition: Tensor, identity: Tensor? = nil, keep: [Keep]) -> Tensor {
        let b = condition.shape.first ?? 0, v = views
        check(condition.rank == 4 && noisy.rank == 4 && noisy.shape[0] == b * v && Array(noisy.shape[1...]) == Array(condition.shape[1...]),
              "MultiViewDiffusionModel: noisy latents \(noisy.shape) for condition latents \(condition.shape) and \(v) views: "
              + "expected [\(b * v), \(condition.shape.dropFirst().map(String.init).joined(separator: ", "))]")
        check(timesteps.count == b && keep.count == b,
              "MultiViewDiffusionModel: \(timesteps.count) timesteps and \(keep.count) keep flags for \(b) samples")
        checkIdentity(identity, samples: b)
        let perView = (0..<b).flatMap { Array(repeating: $0, count: v) }
        func mask(_ flags: [Bool], trailing: Int) -> Tensor {
            Tensor(flags.map { $0 ? 1 : 0 }, shape: [b] + Array(repeating: 1, count: trailing))
        }
        let latent = keep.allSatisfy(\.latent) ? condition : condition * mask(keep.map(\.latent), trailing: 3)
        var (global, tokens) = conditionEncoder(condition)
        if let identity, let identityProjection {
            global = concat([global, identity], axis: 1)
            let d = configuration.conditionEncoder.tokenDimension
            tokens = concat([tokens, identityProjection(identity).reshaped([b, 1, d])], axis: 1)
        }
        if !keep.allSatisfy(\.embedding) {
            global = global * mask(keep.map(\.embedding), trailing: 1)
            tokens = tokens * mask(keep.map(\.embedding), trailing: 2)
        }
        let camera = cameraFeatures.indexSelect(axis: 0, indices: (0..<b).flatMap { _ in Array(0..<v) })
        let labels = concat([global.indexSelect(axis: 0, indices: perView), camera], axis: 1)
        let input = concat([noisy, latent.indexSelect(axis: 0, indices: perView)], axis: 1)
        return unet(input, timesteps: perView.map { Float(timesteps[$0]) },
                    encoderHiddenStates: tokens.indexSelect(axis: 0, indices: perView),
                    classLabels: labels, views: v, multiView: configuration.multiView)
    }

    /// v̂ with classifier-free guidance: the unconditional (nothing kept) and conditional passes
    /// in one batch when the guidance is active.
    public func guidedVelocity(noisy: Tensor, timestep: Int, condition: Tensor, identity: Tensor? = nil,
                               guidance: ClassifierFreeGuidance) -> Tensor {
        let b = condition.shape[0]
        guard guidance.isActive else {
            return velocity(noisy: noisy, timesteps: Array(repeating: timestep, count: b), condition: condition, identity: identity,
                            keep: Array(repeating: .all, count: b))
        }
        let stacked = velocity(noisy: concat([noisy, noisy], axis: 0), timesteps: Array(repeating: timestep, count: 2 * b),
                               condition: concat([condition, condition], axis: 0),
                               identity: identity.map { concat([$0, $0], axis: 0) },
                               keep: Array(repeating: .none, count: b) + Array(repeating: .all, count: b))
        return guidance(stacked: stacked)
    }

    /// How the views are sampled.
    public struct Sampling: Equatable, Sendable {
        public var steps: Int
        public var guidance: Float
        public var eta: Float
        public init(steps: Int = 50, guidance: Float = 3, eta: Float = 1) {
            self.steps = steps; self.guidance = guidance; self.eta = eta
        }

        /// Throws, naming the option, for values no sampler takes.
        public func validate() throws {
            if steps < 1 { throw DiffusionConfigurationError(key: "steps", message: "is \(steps); sampling needs at least 1 step") }
            if !(guidance >= 0) { throw DiffusionConfigurationError(key: "guidance", message: "is \(guidance); must be ≥ 0 (1 = no guidance)") }
            if !(eta >= 0 && eta <= 1) { throw DiffusionConfigurationError(key: "eta", message: "is \(eta); must lie in [0, 1]") }
        }
    }

    /// The V views' scaled latents [B·V, z, h, w] for condition latents [B, z, h, w]. The low stage
    /// runs DDIM from unit noise; the high stage runs the two-stage residual process from
    /// n = ξ1·ε + ξ2·j̄, `lowResolution` j̄ [B·V, z, h, w] being the scaled latents of the
    /// low stage's views upsampled to this stage's size. Deterministic given `rng`.
    public func sample(condition: Tensor, identity: Tensor? = nil, lowResolution: Tensor? = nil, sampling: Sampling,
                       rng: inout Philox) throws -> Tensor {
        try sampling.validate()
        let shape = [condition.shape[0] * views] + Array(condition.shape.dropFirst())
        check((configuration.stage == .high) == (lowResolution != nil),
              "MultiViewDiffusionModel: the \(configuration.stage.rawValue) stage " + (lowResolution == nil ? "needs" : "takes no") + " low-resolution latents")
        if let lowResolution {
            check(lowResolution.shape == shape, "MultiViewDiffusionModel: low-resolution latents \(lowResolution.shape), expected \(shape)")
        }
        var scheduler = try DDIMScheduler(configuration.scheduler)
        try scheduler.setTimesteps(sampling.steps)
        let guidance = ClassifierFreeGuidance(scale: sampling.guidance)
        let noise = Tensor.normal(shape, rng: &rng)
        return withoutGradients {
            if let lowResolution {
                let process = try! TwoStageResidualProcess(scheduler: scheduler, noiseWeight: configuration.noiseWeight,
                                                           lowResolutionWeight: configuration.lowResolutionWeight)
                return process.sample(from: process.blendedNoise(noise: noise, lowResolution: lowResolution),
                                      timesteps: scheduler.timesteps, lowResolution: lowResolution, eta: sampling.eta, rng: &rng) {
                    self.guidedVelocity(noisy: $0, timestep: $1, condition: condition, identity: identity, guidance: guidance)
                }
            }
            var z = noise
            for t in scheduler.timesteps {
                let v = guidedVelocity(noisy: z, timestep: t, condition: condition, identity: identity, guidance: guidance)
                z = scheduler.step(modelOutput: v, timestep: t, sample: z, eta: sampling.eta, rng: &rng).previousSample
            }
            return z
        }
    }

    /// Identity guidance needs the embeddings [B, identityDimension]; a model without it takes none.
    func checkIdentity(_ identity: Tensor?, samples b: Int) {
        switch (configuration.identityDimension, identity) {
        case (nil, nil): break
        case (nil, let given?): check(false, "MultiViewDiffusionModel: identity embeddings \(given.shape) for a model without identity guidance")
        case (let d?, nil): check(false, "MultiViewDiffusionModel: the model is identity-guided and needs the condition's identity embeddings [\(b), \(d)]")
        case (let d?, let given?): check(given.shape == [b, d], "MultiViewDiffusionModel: identity embeddings \(given.shape), expected [\(b), \(d)]")
        }
    }
}
