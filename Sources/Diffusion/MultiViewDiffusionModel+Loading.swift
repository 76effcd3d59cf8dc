import Checkpoints
import Foundation
import Layers
import Tensors

extension MultiViewDiffusionModel {
    /// The checkpoint metadata that rebuilds the model: its own configuration and its UNet's.
    public var checkpointMetadata: [String: String] {
        [MultiViewDiffusionConfiguration.metadataKey: configuration.json(),
         UNet2DConditionConfiguration.metadataKey: unet.configuration.json()]
    }

    /// Rebuilds a model from a Relief weights file (`model.safetensors` / `ema.safetensors` of a
    /// `model.kind: mvdiffusion` run) and loads its weights. A file of another kind of model is
    /// refused by name.
    public static func load(_ file: SafetensorsFile) throws -> MultiViewDiffusionModel {
        guard let json = file.metadata[MultiViewDiffusionConfiguration.metadataKey],
              let unetJSON = file.metadata[UNet2DConditionConfiguration.metadataKey] else {
            throw CheckpointError(path: file.path, "is not a multi-view diffusion checkpoint (no '\(MultiViewDiffusionConfiguration.metadataKey)' "
                                         + "metadata; model: \(file.metadata["model"] ?? "unknown"))")
        }
        let configuration = try MultiViewDiffusionConfiguration.fromJSON(json, source: file.path)
        let unetConfiguration = try UNet2DConditionConfiguration(json: Data(unetJSON.utf8), source: file.path)
        let model = try MultiViewDiffusionModel(configuration, unet: unetConfiguration)
        do { try ParameterStore(model: model).load(try file.tensors()) } catch {
            throw CheckpointError(path: file.path, "weights do not fit the configured multi-view model: \(error)")
        }
        return model
    }
}
