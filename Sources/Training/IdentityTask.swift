import Datasets
import Foundation
import Identity
import Layers
import Tensors

/// `model.kind: identity` — an ArcFace-style identity encoder (`IdentityEncoder`) trained with
/// the additive angular margin loss over the training split's identities: every selected view
/// of a sample is one image, labelled with its subject's identity, so any view, variant and
/// background of an identity is one class. The class indices cover the training identities
/// only (the validation split holds out whole identities); `identity_fraction` < 1 trains on a
/// subset of them chosen by `identity_subset_seed` (an evaluation encoder that must differ from
/// the guidance one), the other identities' images weighing nothing. Evaluation embeds the
/// held-out subjects' ring views (azimuth 0 the face's front, 90° and 270° the sides, 180° the
/// back) and reports verification and cosine statistics (`IdentityVerification`). The
/// checkpoint's `identity_config` metadata rebuilds the encoder. Keys: see recipes/README.md.
///
/// Beside (or instead of) the margin loss, `contrastive_weight` adds the supervised contrastive
/// loss over the batch's images, and `partner_variants` joins each sample with another subject of
/// its identity (another appearance variant, its own random views): without it two variants of
/// one identity rarely share a batch, and nothing pulls their embeddings together but the centres.
public final class IdentityTask: TrainingTask {
    let encoder: IdentityEncoder
    private(set) var loss: AngularMarginLoss
    let marginLossWeight: Float
    let contrastive: SupervisedContrastiveLoss
    let contrastiveWeight: Float
    /// Per training sample, the other samples of its identity (empty without `partner_variants`).
    let partnersOfSample: [[Int]]
    /// Reads the partners' views, by a stream of its own (nil without `partner_variants`).
    let partnerAssembler: BatchAssembler?
    /// Steps of a linear ramp of the margin from 0 to the configured one: with many identities
    /// and few images of each per batch, the full margin from the first step keeps every target
    /// logit below the others and the classes never form.
    let marginWarmupSteps: Int
    let train: ShardedDataset
    /// Class index of each training sample, nil for samples outside the identity subset.
    let classOfSample: [Int?]
    let heldOut: ShardedDataset?
    let background: Background
    let seed: UInt64

    public var model: any Module { encoder }
    public let viewSelection: ViewSelection

    public var checkpointMetadata: [String: String] { [IdentityEncoderConfiguration.metadataKey: encoder.configuration.json()] }

    public var summary: String {
        let c = encoder.configuration
        let ramp = marginWarmupSteps > 0 ? ", ramped from 0 over \(marginWarmupSteps) steps" : ""
        let contrast = contrastiveWeight > 0 ? " + \(contrastiveWeight) × supervised contrastive loss (τ \(contrastive.temperature))" : ""
        let partners = partnerAssembler == nil ? "" : ", each sample with a partner variant of its identity"
        return "\(marginLossWeight) × additive angular margin loss (s \(loss.scale), m \(c.margin)\(ramp))\(contrast) over \(c.classes) training identities\(partners); "
            + "encoder block_out_channels \(c.blockOutChannels), layers_per_block \(c.layersPerBlock), "
            + "\(c.embeddingDimension)-d embedding at \(c.resolution)²" + (c.seesWholeImage ? "" : " of the face box \(c.faceBox)")
    }

    public init(recipe: Recipe) throws {
        let m = recipe.model.section
        var c = IdentityEncoderConfiguration()
        c.blockOutChannels = try m.ints("block_out_channels", default: c.blockOutChannels)
        c.layersPerBlock = try m.int("layers_per_block", default: c.layersPerBlock, min: 1)
        c.normNumGroups = try m.int("norm_num_groups", default: c.normNumGroups, min: 1)
        c.embeddingDimension = try m.int("embedding_dimension", default: c.embeddingDimension, min: 1)
        c.faceBox = try m.doubles("face_box", default: c.faceBox.map(Double.init)).map(Float.init)
        c.marginScale = Float(try m.double("margin_scale", default: 64, min: 0, exclusiveMin: true))
        c.margin = Float(try m.double("margin", default: 0.5, min: 0, max: Double.pi / 2 - 1e-3))
        marginWarmupSteps = try m.int("margin_warmup_steps", default: 0, min: 0)
        marginLossWeight = Float(try m.double("margin_loss_weight", default: 1, min: 0))
        contrastiveWeight = Float(try m.double("contrastive_weight", default: 0, min: 0))
        contrastive = SupervisedContrastiveLoss(temperature: Float(try m.double("contrastive_temperature", default: 0.1, min: 0, exclusiveMin: true)))
        guard marginLossWeight > 0 || contrastiveWeight > 0 else {
            throw m.error("margin_loss_weight", nil, "and contrastive_weight are both 0: nothing to train")
        }
        let partnerVariants = try m.bool("partner_variants", default: false)
        let fraction = try m.double("identity_fraction", default: 1, min: 0, max: 1, exclusiveMin: true)
        let subsetSeed = UInt64(try m.int("identity_subset_seed", default: 0, min: 0))

        let train = try ShardedDataset(recipe.data.train)
        self.train = train
        guard train.width == train.height else {
            throw m.error("kind", nil, "needs square views; \(recipe.data.train) has \(train.width)×\(train.height)")
        }
        // A smaller side than the views' trains several times faster; the encoder resizes its inputs.
        c.resolution = try m.int("resolution", default: train.width, min: 1)
        let identities = Array(Set((0..<train.count).map(train.identity))).sorted()
        let kept = Self.subset(identities, fraction: fraction, seed: subsetSeed)
        guard kept.count >= 2 else {
            throw m.error("identity_fraction", nil, "keeps \(kept.count) of \(identities.count) training identities; the loss needs at least 2")
        }
        let classOf = Dictionary(uniqueKeysWithValues: kept.enumerated().map { ($0.element, $0.offset) })
        classOfSample = (0..<train.count).map { classOf[train.identity($0)] }
        if partnerVariants {
            let samplesOf = Dictionary(grouping: 0..<train.count, by: train.identity)
            partnersOfSample = (0..<train.count).map { s in samplesOf[train.identity(s)]!.filter { $0 != s } }
        } else {
            partnersOfSample = []
        }
        c.classes = kept.count
        if let problem = c.problem {
            // Each problem starts with the key it is about: blame that key where the recipe wrote it.
            let key = String(problem.prefix { $0 != " " })
            throw m.error(m.has(key) ? key : "kind", nil, problem)
        }
        encoder = IdentityEncoder(c)
        loss = AngularMarginLoss(scale: c.marginScale, margin: c.margin)

        if let v = recipe.data.validation {
            heldOut = try ShardedDataset(v, split: IdentitySplit.validation)
        } else {
            heldOut = train.manifest.shards(of: IdentitySplit.validation).isEmpty ? nil
                : try ShardedDataset(recipe.data.train, split: IdentitySplit.validation)
        }
        if let heldOut {
            let overlap = Set((0..<heldOut.count).map(heldOut.identity)).intersection(identities)
            guard overlap.isEmpty else {
                throw recipe.error("data.validation", "shares identities with the training split (\(overlap.sorted().prefix(5).joined(separator: ", "))); "
                                   + "held-out verification needs unseen identities")
            }
            try Self.evaluationSelection.validate(heldOut)
        }
        background = Background(rawValue: recipe.data.background) ?? .white
        seed = recipe.seed
        viewSelection = .random(inputs: recipe.views.inputs, supervision: 0, nearInputs: false)
        partnerAssembler = partnerVariants
            ? BatchAssembler(dataset: train, selection: viewSelection, background: background, seed: seed ^ 0x7061_7274_6e65_7273) : nil
    }

    /// `fraction` of `identities` (at least one), chosen by ranking them by a hash of (seed, name):
    /// a different seed gives a different subset, the same seed always the same one.
    static func subset(_ identities: [String], fraction: Double, seed: UInt64) -> [String] {
        guard fraction < 1 else { return identities }
        func rank(_ name: String) -> UInt64 {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ (seed &* 0x9E37_79B9_7F4A_7C15)
            for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            return h
        }
        let count = max(1, Int((fraction * Double(identities.count)).rounded()))
        return Array(identities.sorted { (rank($0), $0) < (rank($1), $1) }.prefix(count)).sorted()
    }

    public func willTrain(step: Int) {
        loss.margin = Self.margin(encoder.configuration.margin, step: step, warmup: marginWarmupSteps)
    }

    static func margin(_ full: Float, step: Int, warmup: Int) -> Float {
        warmup > 0 ? full * Float(min(step, warmup)) / Float(warmup) : full
    }

    /// Each sample's partner for this epoch: one of the other subjects of its identity, in turn
    /// epoch by epoch (the sample itself, with other random views, when it has none).
    static func partner(among others: [Int], sample: Int, epoch: Int) -> Int {
        others.isEmpty ? sample : others[(epoch + sample) % others.count]
    }

    /// The batch's images, then its partners' (same views per sample, drawn by their own
    /// stream), [images, 3, H, W], and each image's sample.
    func images(of batch: Batch) -> (images: Tensor, samples: [Int]) {
        let s = batch.images.shape
        let own = batch.images.reshaped([s[0] * s[1], s[2], s[3], s[4]])
        guard let partnerAssembler else { return (own, batch.samples.flatMap { Array(repeating: $0, count: s[1]) }) }
        let partners = batch.samples.map { Self.partner(among: partnersOfSample[$0], sample: $0, epoch: batch.cursor.epoch) }
        var scratch = [UInt8]()
        let theirs: Batch
        do { theirs = try partnerAssembler.assemble(partners, cursor: batch.cursor, next: batch.next, scratch: &scratch) } catch {
            fatalError("identity partner variants: \(error)")
        }
        return (concat([own, theirs.images.reshaped(own.shape)], axis: 0),
                (batch.samples + partners).flatMap { Array(repeating: $0, count: s[1]) })
    }

    public func loss(on batch: Batch, rng: inout Philox) -> (loss: Tensor, metrics: [String: Double]) {
        let (images, samples) = images(of: batch)
        let classes = samples.map { classOfSample[$0] }
        let labels = classes.map { $0 ?? 0 }
        let weights = classes.map { Float($0 == nil ? 0 : 1) }
        let embeddings = encoder(images, training: true)
        let centres = encoder.classCentres!.value
        var value = loss(embeddings: embeddings, centres: centres, labels: labels, weights: weights) * marginLossWeight
        var metrics: [String: Double] = [:]
        if contrastiveWeight > 0 {
            let term = contrastive(embeddings: embeddings, labels: classes)
            metrics["contrastive_loss"] = Double(term.item)
            value = value + term * contrastiveWeight
        }
        // Nearest-centre accuracy on the counted images: how well the classes separate.
        let cosines = withoutGradients { matmul(embeddings, l2Normalized(centres), transposeB: true) }
        var correct = 0.0, counted = 0.0
        let c = centres.shape[0]
        for i in 0..<labels.count where weights[i] > 0 {
            let row = (0..<c).map { cosines[flat: i * c + $0] }
            if row.indices.max(by: { row[$0] < row[$1] }) == labels[i] { correct += 1 }
            counted += 1
        }
        metrics["accuracy"] = counted > 0 ? correct / counted : 0
        return (value, metrics)
    }

    /// The held-out views evaluation embeds: azimuths 0, 45, 90, 135, 180, 270, 315° in that order.
    static let evaluationSelection = ViewSelection.ring(condition: .front, reconstructInput: false)
    /// Positions of the front, side and back views in `evaluationSelection`.
    static let frontSlot = 0, sideSlots = [2, 5], backSlot = 4

    /// Verification on the held-out subjects of `batches` (their ring views, read here; the
    /// trainer's batches only say which subjects): TAR at FAR 1e-3 and 1e-2 on front-to-side and
    /// on all ring-view pairs; mean cosine of same-identity front–side and front–back pairs and
    /// of different-identity pairs. The grid shows each subject's ring views.
    public func evaluate(on batches: [Batch], gridPath: String?) throws -> [String: Double] {
        guard let heldOut else { return [:] }
        let samples = batches.flatMap(\.samples)
        guard !samples.isEmpty else { return [:] }
        let assembler = BatchAssembler(dataset: heldOut, selection: Self.evaluationSelection, background: background, seed: seed)
        var scratch = [UInt8]()
        var embeddings: [[Float]] = [], rows: [[Tensor]] = []
        let views = Self.evaluationSelection.count
        for start in stride(from: 0, to: samples.count, by: 8) {
            let chunk = Array(samples[start..<min(samples.count, start + 8)])
            let batch = try assembler.assemble(chunk, cursor: .init(), next: .init(), scratch: &scratch)
            let s = batch.images.shape
            let images = batch.images.reshaped([s[0] * s[1], s[2], s[3], s[4]])
            let e = encoder(images), d = e.shape[1]
            for i in 0..<e.shape[0] { embeddings.append((0..<d).map { e[flat: i * d + $0] }) }
            for b in 0..<chunk.count where rows.count < 8 { rows.append((0..<views).map { item(images, b * views + $0) }) }
        }
        if let gridPath { try ImageGrid.write(rows, to: gridPath) }
        let identities = samples.map(heldOut.identity)
        return IdentityVerification(embeddings: embeddings, identities: identities, viewsPerSubject: views,
                                    front: Self.frontSlot, sides: Self.sideSlots, back: Self.backSlot).metrics
    }
}
