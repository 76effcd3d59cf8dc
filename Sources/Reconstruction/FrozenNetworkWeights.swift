import Foundation
import Checkpoints
import Layers
import Tensors

/// The weights of a frozen, pretrained network (VGG for the perceptual loss, LPIPS): loaded from
/// a safetensors file by the network's own parameter names, ignoring the file's other tensors.
/// Returns the store that owns them (not trainable: on the tape they are constants). Throws
/// `PerceptualLossError` naming the file and every missing or misshaped key, followed by `expected`.
func loadFrozenWeights(of network: any Module, from file: String, what: String, expected: String) throws -> ParameterStore {
    guard FileManager.default.fileExists(atPath: file) else { throw PerceptualLossError(file: file, "no such file (\(what))") }
    let weights = try SafetensorsFile(path: file)
    network.setFrozen(true)
    let store = ParameterStore(model: network, trainable: false)
    // Only the keys the network has: `load` then reports exactly the missing and misshaped ones.
    var found: [String: Tensor] = [:]
    for e in store.entries where weights.entries[e.name] != nil { found[e.name] = try weights.tensor(e.name) }
    do { try store.load(found) } catch let error as ParameterLoadError {
        throw PerceptualLossError(file: file, "\(error) (\(expected))")
    }
    return store
}
