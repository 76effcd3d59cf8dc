import Datasets
import Foundation
import Layers
import Tensors

/// What a model family supplies to the generic trainer: the model, the views it needs, the
/// loss of a batch, and its evaluation. Everything else (data, ranks, optimizer, checkpoints,
/// logs) is the trainer's.
public protocol TrainingTask: AnyObject {
    /// The trained model; its parameters become the checkpoint's `model.safetensors`.
    var model: any Module { get }
    /// Which views each sample contributes to a batch (inputs first).
    var viewSelection: ViewSelection { get }
    /// The loss of one batch, recorded on the tape, and scalars to log with it. `rng` is unique
    /// to (step, micro-batch slot) and the same whatever the rank layout, for exact resume and
    /// rank/accumulation equivalence.
    func loss(on batch: Batch, rng: inout Philox) -> (loss: Tensor, metrics: [String: Double])
    /// Evaluation on held-out batches with the weights currently in the model (the EMA weights
    /// when the run keeps them). Writes an image grid (inputs, predictions, ground truth) to
    /// `gridPath` when given.
    func evaluate(on batches: [Batch], gridPath: String?) throws -> [String: Double]
    /// Extra safetensors metadata for the model and EMA files: what inference needs to rebuild
    /// the model from the checkpoint alone (its configuration).
    var checkpointMetadata: [String: String] { get }
    /// A line for the run's header: what is trained how (the loss terms, what is off and why).
    var summary: String { get }
    /// Sub-models the loss runs but nothing trains (a VAE, an identity encoder), loaded by the
    /// task's factory. They must not be part of `model`. Gradients flow through them to their
    /// inputs; their weights get no optimizer state, no EMA and no copy in the checkpoints,
    /// whose `frozen_models` metadata records where each came from.
    var frozenModels: [FrozenModel] { get }
    /// Called before the micro-batches of optimizer step `step` (0-based, the steps already
    /// taken), on every rank and again after a resume: for what a task schedules by step.
    func willTrain(step: Int)
}

extension TrainingTask {
    public var checkpointMetadata: [String: String] { [:] }
    public var frozenModels: [FrozenModel] { [] }
    public var summary: String { "" }
    public func willTrain(step: Int) {}
}

/// Model families by `model.kind`. A family registers a factory that reads its own keys from
/// the `model` section (and must leave no key unread).
public enum TaskCatalog {
    public typealias Factory = (Recipe) throws -> any TrainingTask
    nonisolated(unsafe) private static var factories: [String: Factory] = ["probe": ProbeTask.init(recipe:), "gslrm": ReconstructionTask.init(recipe:),
                                                                                "vae": VAETask.init(recipe:), "mvdiffusion": MVDiffusionTask.init(recipe:),
                                                                                "identity": IdentityTask.init(recipe:)]

    public static func register(_ kind: String, _ factory: @escaping Factory) { factories[kind] = factory }
    public static var kinds: [String] { factories.keys.sorted() }

    public static func make(_ recipe: Recipe) throws -> any TrainingTask {
        guard let factory = factories[recipe.model.kind] else {
            throw recipe.model.section.error("kind", nil, "is '\(recipe.model.kind)'; known kinds: \(kinds.joined(separator: ", "))")
        }
        let task = try factory(recipe)
        try recipe.model.section.finish()
        // A family that chooses its views otherwise would silently ignore the diffusion ring.
        if let ring = recipe.views.ringSelection, task.viewSelection != ring {
            throw recipe.error("views.ring", "is '\(recipe.views.ring!)', but model.kind '\(recipe.model.kind)' does not train on the diffusion ring")
        }
        if let diffusion = recipe.views.diffusionInputSelection, task.viewSelection != diffusion {
            throw recipe.error("views.inputs", "is 'diffusion', but model.kind '\(recipe.model.kind)' does not take the six diffusion views as inputs")
        }
        return task
    }
}
