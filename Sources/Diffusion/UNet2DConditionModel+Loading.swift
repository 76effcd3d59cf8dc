import Checkpoints
import Foundation
import Layers
import Tensors

/// A UNet checkpoint that cannot become a model: names the file and why.
public typealias UNet2DConditionLoadError = DiffusersLoadError

extension UNet2DConditionModel {
    /// diffusers' folder layout (`save_pretrained`).
    public static let configFileName = DiffusersFolder.configFileName
    public static let weightsFileName = DiffusersFolder.weightsFileName

    /// A model with `configuration` holding `weights` (diffusers keys). `file` names the weights in errors.
    public static func make(_ configuration: UNet2DConditionConfiguration, weights: [String: Tensor], file: String) throws -> UNet2DConditionModel {
        do { try configuration.validate() } catch {
            throw UNet2DConditionLoadError(file: file, "describes no model: \(error)")
        }
        let model = UNet2DConditionModel(configuration: configuration)
        do { try ParameterStore(model: model).load(weights) } catch {
            throw UNet2DConditionLoadError(file: file, "weights do not fit the configured UNet2DConditionModel: \(error)")
        }
        return model
    }

    /// Loads a diffusers UNet2DConditionModel folder (`config.json` + `diffusion_pytorch_model.safetensors`).
    public static func load(folder: URL) throws -> UNet2DConditionModel {
        let (data, configPath, file) = try DiffusersFolder.read(folder, fail: UNet2DConditionLoadError.init)
        let configuration = try UNet2DConditionConfiguration(json: data, source: configPath)
        return try make(configuration, weights: try file.tensors(), file: file.path)
    }

    /// The module name a larger model gives its UNet (the multi-view diffusion model's `unet.`).
    public static let nestedPrefix = "unet."

    /// Loads a Relief weights file whose metadata holds the configuration (`unet_config`): a UNet
    /// alone, or a larger model holding it under `unet.` (its other weights are left out).
    public static func load(_ file: SafetensorsFile) throws -> UNet2DConditionModel {
        let key = UNet2DConditionConfiguration.metadataKey
        guard let json = file.metadata[key] else {
            throw UNet2DConditionLoadError(file: file.path, "no '\(key)' metadata; not a UNet checkpoint (model: \(file.metadata["model"] ?? "unknown"))")
        }
        let configuration = try UNet2DConditionConfiguration(json: Data(json.utf8), source: file.path + " metadata '\(key)'")
        var weights = try file.tensors()
        if weights["conv_in.weight"] == nil, weights[nestedPrefix + "conv_in.weight"] != nil {
            weights = Dictionary(uniqueKeysWithValues: weights.compactMap { name, tensor in
                name.hasPrefix(nestedPrefix) ? (String(name.dropFirst(nestedPrefix.count)), tensor) : nil
            })
        }
        return try make(configuration, weights: weights, file: file.path)
    }

    /// The EMA weights of `checkpoint` when it has them (and `preferEMA`), else its model weights.
    public static func load(_ checkpoint: Checkpoint, preferEMA: Bool = true) throws -> (model: UNet2DConditionModel, file: String) {
        let file = try DiffusersFolder.weightsFile(checkpoint, preferEMA: preferEMA)
        return (try load(file), file.path)
    }

    /// `path` is a diffusers folder (has `config.json`), or a Relief run / step folder / `latest`.
    public static func load(path: String, preferEMA: Bool = true) throws -> (model: UNet2DConditionModel, source: String) {
        let url = URL(fileURLWithPath: path)
        if FileManager.default.fileExists(atPath: url.appendingPathComponent(configFileName).path) {
            return (try load(folder: url), url.path)
        }
        let (model, file) = try load(try CheckpointDirectory.resolve(path: path), preferEMA: preferEMA)
        return (model, file)
    }

    /// Whether `path` holds a UNet: a diffusers folder whose config.json names
    /// UNet2DConditionModel, or a Relief run / step folder / `latest` whose weights carry
    /// `unet_config`. False for anything else, readable or not (loading says why).
    public static func isStored(at path: String) -> Bool {
        let url = URL(fileURLWithPath: path), configURL = url.appendingPathComponent(configFileName)
        if FileManager.default.fileExists(atPath: configURL.path) {
            struct ClassName: Decodable { let _class_name: String? }
            let data = try? Data(contentsOf: configURL)
            return data.flatMap { try? JSONDecoder().decode(ClassName.self, from: $0) }?._class_name == UNet2DConditionConfiguration.className
        }
        guard let checkpoint = try? CheckpointDirectory.resolve(path: path),
              let file = try? DiffusersFolder.weightsFile(checkpoint, preferEMA: false) else { return false }
        return file.metadata[UNet2DConditionConfiguration.metadataKey] != nil
    }

    /// Writes a folder `UNet2DConditionModel.from_pretrained` reads: config.json and the weights.
    public func save(folder: URL) throws {
        try DiffusersFolder.write(folder, configuration: configuration.json(), weights: weights(), fail: UNet2DConditionLoadError.init)
    }
}
