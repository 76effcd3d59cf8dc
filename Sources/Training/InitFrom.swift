import Checkpoints
import Foundation

/// `init_from`: the weights (only) that start a run, from another run's checkpoint, with an
/// optional key mapping. Written as a path, or as a section (recipes/README.md).
public struct InitFrom {
    /// A step folder, a run folder (its `latest`) or a `latest` file.
    public var checkpoint: String
    /// `auto` (the EMA weights when the checkpoint has them), `ema` or `model`.
    public var weights: String
    public var mapping: TensorKeyMapping
    /// Every model tensor must be loaded and every mapped checkpoint tensor used.
    public var strict: Bool

    static func read(_ root: RecipeSection) throws -> InitFrom? {
        guard root.has("init_from") else { return nil }
        if case .mapping = root.pairs.first(where: { $0.key == "init_from" })!.value {
            let s = try root.section("init_from")
            let spec = InitFrom(checkpoint: try s.string("checkpoint"),
                                weights: try s.string("weights", default: "auto", oneOf: ["auto", "ema", "model"]),
                                mapping: TensorKeyMapping(subtree: try s.optionalString("subtree"),
                                                          stripPrefix: try s.optionalString("strip_prefix"),
                                                          addPrefix: try s.optionalString("add_prefix")),
                                strict: try s.bool("strict", default: false))
            try s.finish()
            return spec
        }
        return try root.optionalString("init_from").map {
            InitFrom(checkpoint: $0, weights: "auto", mapping: .identity, strict: false)
        }
    }

    /// The weights file this spec takes from `checkpoint`.
    func fileName(in checkpoint: Checkpoint) -> String {
        switch weights {
        case "ema": return "ema.safetensors"
        case "model": return "model.safetensors"
        default: return checkpoint.fileNames.contains("ema.safetensors") ? "ema.safetensors" : "model.safetensors"
        }
    }
}
