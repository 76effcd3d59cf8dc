import Checkpoints
import Foundation
import Layers
import Tensors

/// A VAE checkpoint that cannot become a model: names the file and why.
public typealias AutoencoderKLLoadError = DiffusersLoadError

extension AutoencoderKL {
    /// diffusers' folder layout (`save_pretrained`).
    public static let configFileName = DiffusersFolder.configFileName
    public static let weightsFileName = DiffusersFolder.weightsFileName

    /// Older names of the mid-block attention's parts, as diffusers still reads them: diffusers
    /// before 0.14 (`query/key/value/proj_attn`) and the original LDM code (`q/k/v/proj_out`,
    /// `norm`, with 1×1-convolution weights [C, C, 1, 1]).
    static let legacyAttentionNames = [
        "query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0",
        "q": "to_q", "k": "to_k", "v": "to_v", "proj_out": "to_out.0", "norm": "group_norm",
    ]

    /// `weights` under the current diffusers names: legacy attention names renamed, 1×1
    /// convolution attention weights reshaped to linear ones. Other keys pass unchanged.
    public static func canonicalWeights(_ weights: [String: Tensor]) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (key, value) in weights {
            var parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            var tensor = value
            if let a = parts.firstIndex(of: "attentions"), a + 2 < parts.count, parts[a - 1] == "mid_block" {
                if let new = legacyAttentionNames[parts[a + 2]] { parts[a + 2] = new }
                let isProjection = ["to_q", "to_k", "to_v", "to_out"].contains(parts[a + 2].split(separator: ".").first.map(String.init) ?? "")
                if isProjection, tensor.rank == 4, tensor.shape[2] == 1, tensor.shape[3] == 1 {
                    tensor = tensor.reshaped([tensor.shape[0], tensor.shape[1]])
                }
            }
            out[parts.joined(separator: ".")] = tensor
        }
        return out
    }

    /// A model with `configuration` holding `weights` (any supported key names). `file` names
    /// the weights in errors.
    public static func make(_ configuration: AutoencoderKLConfiguration, weights: [String: Tensor], file: String) throws -> AutoencoderKL {
        let model: AutoencoderKL
        do { model = try AutoencoderKL(configuration) } catch let error as AutoencoderKLConfigurationError {
            throw AutoencoderKLLoadError(file: file, "describes no model: \(error)")
        }
        do { try ParameterStore(model: model).load(canonicalWeights(weights)) } catch {
            throw AutoencoderKLLoadError(file: file, "weights do not fit the configured AutoencoderKL: \(error)")
        }
        return model
    }

    /// Loads a diffusers AutoencoderKL folder (`config.json` + `diffusion_pytorch_model.safetensors`).
    public static func load(diffusersFolder folder: URL) throws -> AutoencoderKL {
        let (data, configPath, file) = try DiffusersFolder.read(folder, fail: AutoencoderKLLoadError.init)
        let configuration = try AutoencoderKLConfiguration.fromJSON(data, source: configPath)
        return try make(configuration, weights: try file.tensors(), file: file.path)
    }

    /// Loads a Relief weights file whose metadata holds the configuration (`vae_config`).
    public static func load(_ file: SafetensorsFile) throws -> AutoencoderKL {
        guard let json = file.metadata[AutoencoderKLConfiguration.metadataKey] else {
            throw AutoencoderKLLoadError(file: file.path, "no '\(AutoencoderKLConfiguration.metadataKey)' metadata; not a VAE checkpoint "
                                         + "(model: \(file.metadata["model"] ?? "unknown"))")
        }
        let configuration = try AutoencoderKLConfiguration.fromJSON(Data(json.utf8), source: file.path + " metadata '\(AutoencoderKLConfiguration.metadataKey)'")
        return try make(configuration, weights: try file.tensors(), file: file.path)
    }

    /// The EMA weights of `checkpoint` when it has them (and `preferEMA`), else its model weights.
    public static func load(_ checkpoint: Checkpoint, preferEMA: Bool = true) throws -> (model: AutoencoderKL, file: String) {
        let file = try DiffusersFolder.weightsFile(checkpoint, preferEMA: preferEMA)
        return (try load(file), file.path)
    }

    /// `path` is a diffusers folder (has `config.json`), or a Relief run / step folder / `latest`.
    public static func load(path: String, preferEMA: Bool = true) throws -> (model: AutoencoderKL, source: String) {
        let url = URL(fileURLWithPath: path)
        if FileManager.default.fileExists(atPath: url.appendingPathComponent(configFileName).path) {
            return (try load(diffusersFolder: url), url.path)
        }
        let (model, file) = try load(try CheckpointDirectory.resolve(path: path), preferEMA: preferEMA)
        return (model, file)
    }

    /// Writes a folder `AutoencoderKL.from_pretrained` reads: config.json and the weights.
    public func saveDiffusers(to folder: URL) throws {
        try DiffusersFolder.write(folder, configuration: configuration.json(), weights: weights(), fail: AutoencoderKLLoadError.init)
    }
}
