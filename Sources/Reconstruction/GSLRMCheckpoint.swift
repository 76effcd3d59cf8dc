import Checkpoints
import Layers

/// A GS-LRM weights file that cannot become a model: names the file and why.
public struct GSLRMLoadError: Error, CustomStringConvertible {
    public let file: String
    public let reason: String
    public var description: String { "\(file): \(reason)" }
}

extension GSLRM {
    /// The configuration a checkpoint's weights file describes (its `gslrm_config` metadata).
    public static func configuration(of file: SafetensorsFile) throws -> GSLRMConfiguration {
        guard let json = file.metadata[GSLRMConfiguration.metadataKey] else {
            throw GSLRMLoadError(file: file.path, reason: "no '\(GSLRMConfiguration.metadataKey)' metadata; not a GS-LRM checkpoint "
                                 + "(model: \(file.metadata["model"] ?? "unknown"))")
        }
        let configuration: GSLRMConfiguration
        do { configuration = try GSLRMConfiguration.fromJSON(json) } catch {
            throw GSLRMLoadError(file: file.path, reason: "unreadable '\(GSLRMConfiguration.metadataKey)' metadata: \(error)")
        }
        if let problem = configuration.problem { throw GSLRMLoadError(file: file.path, reason: problem) }
        return configuration
    }

    /// The model a checkpoint's weights file describes, holding those weights, for inference or
    /// frozen inside another model: its store has no gradient slots, so a recorded backward
    /// through it reaches its inputs and never its weights. (To train it, a trainer wraps it in
    /// a trainable store of its own.) No recipe is needed.
    public static func load(_ file: SafetensorsFile) throws -> GSLRM {
        let model = GSLRM(try configuration(of: file))
        do { try ParameterStore(model: model, trainable: false).load(try file.tensors()) } catch {
            throw GSLRMLoadError(file: file.path, reason: "weights do not fit the model they describe: \(error)")
        }
        return model
    }

    /// The EMA weights of `checkpoint` when it has them (and `preferEMA`), else its model weights.
    public static func load(_ checkpoint: Checkpoint, preferEMA: Bool = true) throws -> (model: GSLRM, file: String) {
        let name = preferEMA && checkpoint.fileNames.contains("ema.safetensors") ? "ema.safetensors" : "model.safetensors"
        let file = try checkpoint.safetensors(name)
        return (try load(file), file.path)
    }
}
