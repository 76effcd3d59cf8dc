import Checkpoints
import Foundation
import Layers

/// A sub-model a task uses but does not train (the diffusion task's VAE and identity encoder).
/// Its weights live in a store without gradient slots: gradients flow through it to its
/// inputs and never into it. It gets no optimizer moments and no EMA, and its weights stay out
/// of the run's checkpoints, which record instead where they came from (`source`, in the
/// `frozen_models` metadata that `FrozenModelSources.resolve` reads at inference).
public final class FrozenModel {
    /// Names it in logs and in the checkpoint metadata (e.g. `vae`).
    public let name: String
    public let module: any Module
    /// Holds the weights; tracks no gradients.
    public let store: ParameterStore
    public let source: CheckpointReference

    /// Builds the module that `build` makes from a weights file (its configuration usually
    /// travels in the file's metadata) and loads that file's weights into it, all of them and
    /// nothing else. `checkpoint` is a step folder or a run folder (its `latest`, resolved now);
    /// its EMA weights are used when it has them and `preferEMA`.
    public init(name: String, checkpoint path: String, preferEMA: Bool = true,
                build: (SafetensorsFile) throws -> any Module) throws {
        let checkpoint = try CheckpointDirectory.resolve(path: path)
        let fileName = preferEMA && checkpoint.fileNames.contains("ema.safetensors") ? "ema.safetensors" : "model.safetensors"
        let file = try checkpoint.safetensors(fileName)
        let module = try build(file)
        store = ParameterStore(model: module, trainable: false)
        do { try store.load(try file.tensors()) } catch let error as ParameterLoadError {
            throw TrainingError("frozen sub-model '\(name)': \(file.path): \(error)")
        }
        self.name = name
        self.module = module
        source = try CheckpointReference(checkpoint: checkpoint, file: fileName)
    }

    /// What the trained model's checkpoints record about `models`.
    static func metadata(_ models: [FrozenModel]) -> [String: String] {
        FrozenModelSources.metadata(Dictionary(uniqueKeysWithValues: models.map { ($0.name, $0.source) }))
    }

    /// Frozen sub-models must be distinct, named once, and outside the trained model: a
    /// parameter in both would be trained through one store and frozen in the other.
    static func check(_ models: [FrozenModel], against trained: ParameterStore) throws {
        let trainedParameters = Set(trained.entries.map { ObjectIdentifier($0.parameter) })
        var names = Set<String>()
        for m in models {
            guard !m.name.isEmpty, names.insert(m.name).inserted else {
                throw TrainingError("frozen sub-model names must be unique and non-empty; '\(m.name)' is not")
            }
            if let shared = m.store.entries.first(where: { trainedParameters.contains(ObjectIdentifier($0.parameter)) }) {
                throw TrainingError("frozen sub-model '\(m.name)' shares parameter '\(shared.name)' with the trained model; "
                                    + "a frozen sub-model must not be part of `model`")
            }
        }
    }

    /// A line for the run's header.
    var summary: String {
        "frozen sub-model '\(name)': \(module.parameterCount) parameters from \(source.path) (sha256 \(source.sha256.prefix(12))…)"
    }
}
