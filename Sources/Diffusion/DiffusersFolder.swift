import Checkpoints
import Foundation
import Layers
import Tensors

/// diffusers' folder layout for one model (`save_pretrained`): `config.json` beside
/// `diffusion_pytorch_model.safetensors`. Errors come from `fail(file, reason)` so that each
/// model names itself in them.
enum DiffusersFolder {
    static let configFileName = "config.json"
    static let weightsFileName = "diffusion_pytorch_model.safetensors"

    /// The configuration's bytes (and its path, for errors) and the opened weights file.
    static func read(_ folder: URL, fail: (String, String) -> Error) throws -> (config: Data, configPath: String, weights: SafetensorsFile) {
        let configURL = folder.appendingPathComponent(configFileName), weightsURL = folder.appendingPathComponent(weightsFileName)
        let data: Data
        do { data = try Data(contentsOf: configURL) } catch {
            throw fail(configURL.path, "cannot be read: \(error.localizedDescription)")
        }
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw fail(weightsURL.path, "does not exist (a diffusers folder holds \(configFileName) and \(weightsFileName))")
        }
        return (data, configURL.path, try SafetensorsFile(contentsOf: weightsURL))
    }

    /// Writes a folder diffusers' `from_pretrained` reads.
    static func write(_ folder: URL, configuration json: String, weights: [String: Tensor], fail: (String, String) -> Error) throws {
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw fail(folder.path, "cannot be created: \(error.localizedDescription)")
        }
        let configURL = folder.appendingPathComponent(configFileName)
        do { try Data((json + "\n").utf8).write(to: configURL, options: .atomic) } catch {
            throw fail(configURL.path, "cannot be written: \(error.localizedDescription)")
        }
        try Safetensors.write(weights, metadata: ["format": "pt"], to: folder.appendingPathComponent(weightsFileName))
    }

    /// The checkpoint's EMA weights when it has them (and `preferEMA`), else its model weights.
    static func weightsFile(_ checkpoint: Checkpoint, preferEMA: Bool) throws -> SafetensorsFile {
        let name = preferEMA && checkpoint.fileNames.contains("ema.safetensors") ? "ema.safetensors" : "model.safetensors"
        return try checkpoint.safetensors(name)
    }
}

extension Module {
    /// The current weights by checkpoint key (copies, safe to keep while training continues).
    public func weights() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, p) in allParameters() {
            let t = Tensor(uninitializedShape: p.shape)
            t.storage.base.update(from: p.value.storage.base, count: p.count)
            out[name] = t
        }
        return out
    }
}
