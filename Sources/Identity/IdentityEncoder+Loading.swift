import Checkpoints
import Foundation
import Layers
import Tensors

/// An identity-encoder weights file that cannot become a model: names the file and why.
public struct IdentityEncoderLoadError: Error, CustomStringConvertible, LocalizedError {
    public let file: String
    public let reason: String
    public var description: String { "\(file): \(reason)" }
    public var errorDescription: String? { description }
}

extension IdentityEncoder {
    /// The configuration a weights file describes (its `identity_config` metadata).
    public static func configuration(of file: SafetensorsFile) throws -> IdentityEncoderConfiguration {
        let key = IdentityEncoderConfiguration.metadataKey
        guard let json = file.metadata[key] else {
            throw IdentityEncoderLoadError(file: file.path, reason: "no '\(key)' metadata; not an identity-encoder checkpoint "
                                           + "(model: \(file.metadata["model"] ?? "unknown"))")
        }
        let configuration: IdentityEncoderConfiguration
        do { configuration = try IdentityEncoderConfiguration.fromJSON(json) } catch {
            throw IdentityEncoderLoadError(file: file.path, reason: "unreadable '\(key)' metadata: \(error)")
        }
        if let problem = configuration.problem { throw IdentityEncoderLoadError(file: file.path, reason: problem) }
        return configuration
    }

    /// The encoder a weights file describes, holding its weights in a store without gradient
    /// slots: gradients flow through it to the images, never into it.
    public static func load(_ file: SafetensorsFile) throws -> IdentityEncoder {
        let model = IdentityEncoder(try configuration(of: file))
        do { try ParameterStore(model: model, trainable: false).load(try file.tensors()) } catch {
            throw IdentityEncoderLoadError(file: file.path, reason: "weights do not fit the encoder they describe: \(error)")
        }
        return model
    }

    /// `path` is a run folder (its `latest`), a step folder or a `latest` file; the EMA weights
    /// are used when the checkpoint has them and `preferEMA`.
    public static func load(path: String, preferEMA: Bool = true) throws -> (encoder: IdentityEncoder, source: String) {
        let checkpoint = try CheckpointDirectory.resolve(path: path)
        let name = preferEMA && checkpoint.fileNames.contains("ema.safetensors") ? "ema.safetensors" : "model.safetensors"
        let file = try checkpoint.safetensors(name)
        return (try load(file), file.path)
    }

    /// CSIM: the cosine similarity of each image of `a` [N, 3, H, W] in [0, 1] to the same-index
    /// image of `b` (any size; both are resized to the encoder's resolution), without gradients.
    public func csim(_ a: Tensor, _ b: Tensor) -> [Double] {
        check(a.rank == 4 && b.rank == 4 && a.shape[0] == b.shape[0], "csim needs two image batches [N, 3, H, W] of one N, got \(a.shape) and \(b.shape)")
        return withoutGradients { cosineSimilarities(self(a), self(b)) }
    }
}
