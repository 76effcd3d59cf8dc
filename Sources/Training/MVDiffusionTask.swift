import Checkpoints
import Datasets
import Diffusion
import Foundation
import Identity
import Layers
import Splatting
import Tensors

/// `model.kind: mvdiffusion` — the multi-view latent diffusion model (`MultiViewDiffusionModel`)
/// in the latent space of a frozen VAE (`model.vae`). Each sample is a condition view and the V
/// target views of the ring selection (target 0 is the condition camera unless input-view
/// reconstruction is off). v-prediction with one timestep per sample shared by its views,
/// Min-SNR-γ weighting (v divides by SNR + 1), classifier-free-guidance dropout drawn once per
/// sample (FaceLift's: embedding, embedding + latent, latent). Stage `high` trains the two-stage
/// residual process towards n = ξ1·ε + ξ2·j̄, j̄ the upsampled latents of the low stage's real
/// outputs on the training subjects (`low_resolution: generated`, written by `relief-infer
/// low-stage-outputs`) or of the ground truth degraded to its size (`degraded`). Evaluation samples the views on held-out subjects
/// (DDIM, guidance) and scores each view against the ground truth, the input view apart.
/// With `identity_encoder` (ID-TS's identity guidance) a frozen identity encoder embeds the
/// condition image for the model, and `identity_loss_weight` adds 1 − cosine between its
/// embeddings of the decoded x̂₀ of every view and of the ground truth, whose gradient reaches
/// the UNet through the frozen VAE decoder and encoder.
/// Keys: see recipes/README.md.
public final class MVDiffusionTask: TrainingTask {
    let network: MultiViewDiffusionModel
    let vae: AutoencoderKL
    let vaeModel: FrozenModel
    /// The identity encoder of identity guidance and loss (optional), and its module.
    let identityModel: FrozenModel?
    let identityEncoder: IdentityEncoder?
    let identityLossWeight: Float
    /// The low stage chained before this high stage, for an evaluation of the whole chain (optional).
    let lowStage: (pipeline: MultiViewPipeline, frozen: FrozenModel)?
    let schedule: NoiseSchedule
    /// The low stage's real outputs on the training subjects (`low_resolution: generated`).
    var lowStageOutputs: LowStageOutputs?
    /// The high stage's two-stage residual process (nil for the low stage).
    let residual: TwoStageResidualProcess?
    let weighting: LossWeighting
    let dropEmbedding, dropBoth, dropLatent: Double
    let samplePosterior: Bool
    let evaluationSampling: MultiViewDiffusionModel.Sampling
    let evaluationSeed: UInt64

    public var model: any Module { network }
    public let viewSelection: ViewSelection
    public var frozenModels: [FrozenModel] { [vaeModel] + (identityModel.map { [$0] } ?? []) + (lowStage.map { [$0.frozen] } ?? []) }
    public var checkpointMetadata: [String: String] { network.checkpointMetadata }

    public var summary: String {
        let c = network.configuration, u = network.unet.configuration
        var parts = ["stage \(c.stage.rawValue) at \(c.imageSize)²", "\(c.views) views at relative azimuths \(c.viewAzimuthsDegrees.map { Int($0) })",
                     "\(c.multiView.rawValue) multi-view attention",
                     "UNet block_out_channels \(u.blockOutChannels), \(network.unet.parameterCount) parameters; condition encoder "
                     + "\(network.conditionEncoder.parameterCount)",
                     "v-prediction, " + (weighting == .uniform ? "uniform weights" : "Min-SNR weights \(weighting)"),
                     "CFG dropout embedding \(dropEmbedding) / both \(dropBoth) / latent \(dropLatent)",
                     identityModel == nil ? "no identity guidance" : "identity guidance by \(identityModel!.source.path)"
                     + (identityLossWeight > 0 ? ", identity loss × \(identityLossWeight)" : ", no identity loss")]
        if c.stage == .high {
            parts.append("two-stage residual ξ = (\(c.noiseWeight), \(c.lowResolutionWeight)) from "
                         + (lowStageOutputs.map { "the low stage's outputs (\($0.lowStage.path))" } ?? "the ground truth degraded to \(c.lowResolutionSize ?? 0)²"))
        }
        return parts.joined(separator: "; ")
    }

    public init(recipe: Recipe) throws {
        let m = recipe.model.section
        var c = MultiViewDiffusionConfiguration()
        c.stage = MultiViewDiffusionConfiguration.Stage(rawValue: try m.string("stage", default: "low", oneOf: MultiViewDiffusionConfiguration.Stage.allCases.map(\.rawValue)))!
        c.multiView = MultiViewAttention(rawValue: try m.string("multiview_attention", default: "dense", oneOf: MultiViewAttention.allCases.map(\.rawValue)))!
        c.cameraFrequencies = try m.int("camera_frequencies", default: 4, min: 1)
        if c.stage == .high {
            c.lowResolutionSize = try m.int("low_resolution_size", min: 4)
            c.noiseWeight = Float(try m.double("xi1", default: 0.4, min: 0, exclusiveMin: true))
            c.lowResolutionWeight = Float(try m.double("xi2", default: 0.6, min: 0))
            if try m.string("low_resolution", default: "degraded", oneOf: ["degraded", "generated"]) == "generated" {
                let path = try m.string("low_resolution_outputs")
                do {
                    let outputs = try LowStageOutputs.read(path)
                    let train = try ShardedDataset(recipe.data.train, split: IdentitySplit.train)
                    let subjects = (0..<train.count).map(train.subject)
                    guard outputs.subjects == subjects else {
                        throw TrainingError("holds the outputs of \(outputs.subjects.count) subjects of \(outputs.dataset) (\(outputs.split)); "
                                            + "data.train's training split has \(subjects.count) others (or in another order): "
                                            + "run relief-infer low-stage-outputs on it")
                    }
                    guard outputs.size == c.lowResolutionSize else {
                        throw TrainingError("holds \(outputs.size)² views; model.low_resolution_size is \(c.lowResolutionSize ?? 0)")
                    }
                    lowStageOutputs = outputs
                } catch let error as RecipeError {
                    throw error
                } catch {
                    throw m.error("low_resolution_outputs", nil, "\(error)")
                }
            }
        }
        c.scheduler.rescaleBetasZeroSNR = try m.bool("zero_terminal_snr", default: c.stage == .high)
        c.scheduler.timestepSpacing = try TimestepSpacing(diffusersName: try m.string("timestep_spacing", default: c.stage == .high ? "trailing" : "leading"))
        let gamma = try m.double("min_snr_gamma", default: 5, min: 0)
        weighting = gamma > 0 ? .minSNR(gamma: Float(gamma)) : .uniform
        dropEmbedding = try m.double("drop_embedding", default: 0.05, min: 0, max: 1)
        dropBoth = try m.double("drop_both", default: 0.05, min: 0, max: 1)
        dropLatent = try m.double("drop_latent", default: 0.05, min: 0, max: 1)
        if dropEmbedding + dropBoth + dropLatent > 1 {
            throw m.error("drop_latent", nil, "makes the dropout probabilities sum to \(dropEmbedding + dropBoth + dropLatent) > 1")
        }
        samplePosterior = try m.bool("sample_posterior", default: true)

        // The frozen VAE fixes the latent width and the image-to-latent factor.
        let vaePath = try m.string("vae")
        do {
            vaeModel = try FrozenModel(name: "vae", checkpoint: vaePath) { try AutoencoderKL.load($0) }
        } catch {
            throw m.error("vae", nil, "cannot be loaded: \(error)")
        }
        vae = vaeModel.module as! AutoencoderKL

        let manifest = try Manifest.read(dataset: recipe.data.train)
        c.imageSize = manifest.width
        let f = vae.configuration.downsamplingFactor
        guard manifest.width == manifest.height, manifest.width % f == 0 else {
            throw recipe.error("data.train", "holds \(manifest.width)×\(manifest.height) views; the model needs square views whose side "
                               + "the VAE's factor \(f) divides")
        }
        guard let selection = recipe.views.ringSelection, case .ring(_, let reconstructInput) = selection else {
            throw recipe.error("views.ring", "must be 'any' or 'front' for model.kind mvdiffusion: each sample is a condition view "
                               + "and the six target views of its 0°-elevation ring")
        }
        viewSelection = selection
        c.viewAzimuthsDegrees = (reconstructInput ? DiffusionRing.targetSteps : DiffusionRing.novelTargetSteps)
            .map { Double($0) * OrbitRig.ringStepDegrees }

        if let path = try m.optionalString("identity_encoder") {
            do {
                identityModel = try FrozenModel(name: "identity", checkpoint: path) { try IdentityEncoder.load($0) }
            } catch {
                throw m.error("identity_encoder", nil, "cannot be loaded: \(error)")
            }
        } else {
            identityModel = nil
        }
        identityEncoder = identityModel?.module as? IdentityEncoder
        c.identityDimension = identityEncoder?.configuration.embeddingDimension
        identityLossWeight = Float(try m.double("identity_loss_weight", default: 0, min: 0))
        if identityLossWeight > 0 && identityModel == nil {
            throw m.error("identity_loss_weight", nil, "is \(identityLossWeight); the identity loss needs model.identity_encoder")
        }

        let e = try m.section("condition_encoder")
        c.conditionEncoder.latentChannels = vae.configuration.latentChannels
        c.conditionEncoder.channels = try e.int("channels", default: 64, min: 1)
        c.conditionEncoder.groups = try e.int("norm_num_groups", default: 16, min: 1)
        c.conditionEncoder.tokenDimension = try e.int("token_dim", default: 64, min: 1)
        c.conditionEncoder.globalDimension = try e.int("global_dim", default: 64, min: 1)
        try e.finish()
        if c.conditionEncoder.channels % c.conditionEncoder.groups != 0 {
            throw e.error("norm_num_groups", nil, "is \(c.conditionEncoder.groups), which does not divide channels (\(c.conditionEncoder.channels))")
        }

        let u = try m.section("unet")
        var unet = UNet2DConditionConfiguration()
        unet.sampleSize = manifest.width / f
        unet.inChannels = 2 * vae.configuration.latentChannels
        unet.outChannels = vae.configuration.latentChannels
        unet.blockOutChannels = try u.ints("block_out_channels", default: [64, 128])
        let levels = unet.blockOutChannels.count
        unet.downBlockTypes = try u.strings("down_block_types", default: ["CrossAttnDownBlock2D"] + Array(repeating: "DownBlock2D", count: max(levels - 1, 0)))
        unet.upBlockTypes = try u.strings("up_block_types", default: Array(repeating: "UpBlock2D", count: max(levels - 1, 0)) + ["CrossAttnUpBlock2D"])
        unet.layersPerBlock = try u.int("layers_per_block", default: 1, min: 1)
        unet.normNumGroups = try u.int("norm_num_groups", default: 16, min: 1)
        unet.attentionHeadDim = [try u.int("attention_head_dim", default: 8, min: 1)]
        unet.crossAttentionDim = c.conditionEncoder.tokenDimension
        unet.classEmbedType = "projection"
        unet.projectionClassEmbeddingsInputDim = c.classLabelDimension
        try u.finish()
        guard (manifest.width / f) % (1 << (levels - 1)) == 0 else {
            throw u.error("block_out_channels", nil, "has \(levels) levels, which halve the \(manifest.width / f)² latents "
                          + "\(levels - 1) times: the latent side must be a multiple of \(1 << (levels - 1))")
        }
        do {
            network = try MultiViewDiffusionModel(c, unet: unet)
        } catch let error as DiffusionConfigurationError {
            throw m.error(error.key, nil, error.message)
        }

        if c.stage == .high, let lowPath = try m.optionalString("low_stage") {
            do {
                let frozen = try FrozenModel(name: "low_stage", checkpoint: lowPath) { try MultiViewDiffusionModel.load($0) }
                let low = frozen.module as! MultiViewDiffusionModel
                let pipeline = try MultiViewPipeline(low: low, high: network, vae: vae, identity: identityEncoder.map { e in { e($0) } })
                // The low stage's latents must be decoded by the VAE it was trained in.
                let lowVAE = try FrozenModelSources.read(try frozen.source.open())["vae"]
                guard lowVAE?.sha256 == vaeModel.source.sha256 else {
                    throw TrainingError("was trained in the VAE \(lowVAE?.path ?? "(none recorded)"), not in model.vae "
                                        + "(\(vaeModel.source.path)); both stages must share one latent space")
                }
                lowStage = (pipeline, frozen)
            } catch {
                throw m.error("low_stage", nil, "\(error)")
            }
        } else {
            lowStage = nil
        }

        let s = try m.section("evaluation")
        evaluationSampling = MultiViewDiffusionModel.Sampling(steps: try s.int("steps", default: 20, min: 1),
                                                              guidance: Float(try s.double("guidance", default: 3, min: 0)),
                                                              eta: Float(try s.double("eta", default: 1, min: 0, max: 1)))
        evaluationSeed = UInt64(try s.int("seed", default: 0, min: 0))
        try s.finish()
        schedule = try NoiseSchedule(c.scheduler)
        residual = c.stage == .high
            ? try TwoStageResidualProcess(schedule: schedule, noiseWeight: c.noiseWeight, lowResolutionWeight: c.lowResolutionWeight) : nil
    }

    /// The condition views [B, 3, H, W] and the targets [B·V, 3, H, W] of a batch.
    static func split(_ batch: Batch) -> (condition: Tensor, targets: Tensor) {
        let s = batch.images.shape, (b, v) = (s[0], s[1])
        let all = batch.images.reshaped([b * v, s[2], s[3], s[4]])
        let conditions = (0..<b).map { $0 * v }, targets = (0..<b).flatMap { i in (1..<v).map { i * v + $0 } }
        return (all.indexSelect(axis: 0, indices: conditions), all.indexSelect(axis: 0, indices: targets))
    }

    /// j̄ for the high stage: low-resolution views upsampled (bilinear, in pixel space) to this
    /// stage's size, as scaled latents.
    func upsampledLatents(_ views: Tensor) -> Tensor {
        let size = network.configuration.imageSize
        return vae.scaledLatents(ofImages: clamp(views.resizedBilinear(height: size, width: size), min: 0, max: 1))
    }

    /// j̄ from the targets degraded to the low stage's size (`low_resolution: degraded`).
    func degradedLatents(_ targets: Tensor) -> Tensor {
        let low = network.configuration.lowResolutionSize!
        return upsampledLatents(targets.resizedBilinear(height: low, width: low))
    }

    /// The low stage's outputs for each sample's subject and condition view [B·V, 3, s, s]; the
    /// condition's ring position is read from its camera.
    func generatedLowResolution(_ batch: Batch, _ outputs: LowStageOutputs) -> Tensor {
        let views = batch.w2c.shape[1]
        return concat((0..<batch.count).map { b in
            let w2c = batch.w2c.withUnsafeBufferPointer { Array($0[(b * views * 16)..<(b * views * 16 + 16)]) }
            let azimuth = DiffusionRing.angles(w2c: w2c[...], view: 0).azimuth
            let position = Int((azimuth / Float(OrbitRig.ringStepDegrees)).rounded()) % LowStageOutputs.ringPositions
            return outputs.views(subject: batch.samples[b], position: position)
        }, axis: 0)
    }

    public func loss(on batch: Batch, rng: inout Philox) -> (loss: Tensor, metrics: [String: Double]) {
        let (conditionImages, targets) = Self.split(batch)
        let b = conditionImages.shape[0]
        let (condition, clean, lowResolution) = withoutGradients { () -> (Tensor, Tensor, Tensor?) in
            var posteriorRNG: Philox? = samplePosterior ? rng.derived(1) : nil
            let lowResolution = network.configuration.stage != .high ? nil
                : lowStageOutputs.map { upsampledLatents(generatedLowResolution(batch, $0)) } ?? degradedLatents(targets)
            return (vae.scaledLatents(ofImages: conditionImages), vae.scaledLatents(ofImages: targets, rng: &posteriorRNG), lowResolution)
        }
        let timesteps = (0..<b).map { _ in rng.int(below: schedule.alphasCumprod.count) }
        var noise = Tensor.normal(clean.shape, rng: &rng)
        if let lowResolution, let residual { noise = residual.blendedNoise(noise: noise, lowResolution: lowResolution) }
        let keep = (0..<b).map { _ -> MultiViewDiffusionModel.Keep in
            let u = Double(rng.uniform())
            if u < dropEmbedding { return .init(embedding: false, latent: true) }
            if u < dropEmbedding + dropBoth { return .none }
            if u < dropEmbedding + dropBoth + dropLatent { return .init(embedding: true, latent: false) }
            return .all
        }
        let noisy = schedule.addNoise(to: clean, noise: noise, timesteps: timesteps)
        let target = schedule.velocity(original: clean, noise: noise, timesteps: timesteps)
        let identity = identityEncoder.map { encoder in withoutGradients { encoder(conditionImages) } }
        let prediction = network.velocity(noisy: noisy, timesteps: timesteps, condition: condition, identity: identity, keep: keep)
        let weights = weighting.weights(timesteps: timesteps, schedule: schedule, predictionType: .velocity)
        var loss = weightedMSELoss(prediction, target, weights: weights)
        let mse = withoutGradients { mseLoss(prediction, target) }
        var metrics = ["v_mse": Double(mse.item), "t_mean": Double(timesteps.reduce(0, +)) / Double(b)]
        if identityLossWeight > 0, let encoder = identityEncoder {
            let term = identityLoss(prediction: prediction, noisy: noisy, timesteps: timesteps, targets: targets, encoder: encoder)
            metrics["identity_loss"] = Double(term.item)
            loss = loss + term * identityLossWeight
        }
        return (loss, metrics)
    }

    /// Mean over the views of 1 − cos(E(D(x̂₀)), E(target)): x̂₀ from the predicted v, decoded by
    /// the frozen VAE (unclamped, so the gradient is not cut where a decoded value leaves [0, 1]),
    /// embedded by the frozen identity encoder; the ground truth's embedding is a constant.
    func identityLoss(prediction: Tensor, noisy: Tensor, timesteps: [Int], targets: Tensor, encoder: IdentityEncoder) -> Tensor {
        let original = schedule.originalSample(from: prediction, as: .velocity, sample: noisy, timesteps: timesteps)
        let images = (vae.decoded(original / Float(vae.configuration.scalingFactor)) + 1) * 0.5
        let truth = withoutGradients { encoder(targets) }
        return 1 - (encoder(images) * truth).sum(axes: [1]).mean()
    }

    /// The views generated for a batch's condition views, as images in [0, 1] [B·V, 3, H, W].
    func generate(_ conditionImages: Tensor, targets: Tensor, rng: inout Philox) throws -> Tensor {
        if let pipeline = lowStage?.pipeline {
            return try pipeline.generate(conditionImages, sampling: evaluationSampling, rng: &rng).views
        }
        let lowResolution = network.configuration.stage == .high ? degradedLatents(targets) : nil
        let identity = identityEncoder.map { $0(conditionImages) }
        let latents = try network.sample(condition: vae.scaledLatents(ofImages: conditionImages), identity: identity, lowResolution: lowResolution,
                                         sampling: evaluationSampling, rng: &rng)
        return vae.images(fromScaledLatents: latents)
    }

    /// PSNR and SSIM of each generated view against its ground truth, per view and averaged
    /// over the novel views, with the input view (view 0 under input-view reconstruction)
    /// apart. The grid shows per sample: condition | generated views | ground truth.
    public func evaluate(on batches: [Batch], gridPath: String?) throws -> [String: Double] {
        let v = network.views, azimuths = network.configuration.viewAzimuthsDegrees
        var scores = ViewScores(views: v)
        var rows: [[Tensor]] = []
        var rng = Philox(seed: evaluationSeed, stream: 0x6d76)
        for batch in batches where batch.count > 0 {
            let (conditionImages, targets) = Self.split(batch)
            let generated = try withoutGradients { try generate(conditionImages, targets: targets, rng: &rng) }
            for s in 0..<conditionImages.shape[0] {
                scores.add(generated.sliced(axis: 0, range: s * v ..< (s + 1) * v), targets.sliced(axis: 0, range: s * v ..< (s + 1) * v))
                if rows.count < 6 {
                    rows.append([item(conditionImages, s)] + (0..<v).map { item(generated, s * v + $0) } + (0..<v).map { item(targets, s * v + $0) })
                }
            }
        }
        if let gridPath { try ImageGrid.write(rows, to: gridPath) }
        var out: [String: Double] = [:]
        let input = azimuths.firstIndex(of: 0)
        let novel = scores.mean(over: (0..<v).filter { $0 != input })
        for k in 0..<v { out["psnr_view\(k)_az\(Int(azimuths[k]))"] = scores.mean(k).psnr }
        (out["psnr_novel"], out["ssim_novel"]) = (novel.psnr, novel.ssim)
        if let input { (out["psnr_input_view"], out["ssim_input_view"]) = (scores.mean(input).psnr, scores.mean(input).ssim) }
        return out
    }
}
