import ArgumentParser
import Checkpoints
import Foundation

/// Which of a checkpoint's weights to reconstruct with. `auto` takes the EMA weights once the
/// average has (nearly) forgotten where it started, else the raw model weights: an average that
/// still holds much of its initial weights is worse than the weights it averages (300 steps at
/// a fixed decay 0.999 keep 74 % of the random initialisation: 10 dB against 20 dB raw).
enum WeightsChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, ema, model

    /// `auto` takes the EMA when less than this share of its initial weights is left.
    static let maxInitialShare = 0.01

    /// The weights file to load and a line saying why.
    func file(in checkpoint: Checkpoint) throws -> (name: String, reason: String) {
        let hasEMA = checkpoint.fileNames.contains("ema.safetensors")
        switch self {
        case .model: return ("model.safetensors", "--weights model")
        case .ema:
            guard hasEMA else { throw ValidationError("\(checkpoint.url.path) has no ema.safetensors (the run kept no EMA); use --weights model") }
            return ("ema.safetensors", "--weights ema")
        case .auto:
            guard hasEMA else { return ("model.safetensors", "the checkpoint has no EMA weights") }
            let (share, updates) = try Self.initialShare(of: checkpoint)
            let state = String(format: "the EMA (%d updates) holds %.1f %% of its initial weights", updates, share * 100)
            if share < Self.maxInitialShare { return ("ema.safetensors", state) }
            return ("model.safetensors", state + String(format: " (≥ %.0f %%), so the raw weights are used; --weights ema to override",
                                                        Self.maxInitialShare * 100))
        }
    }

    /// The EMA's remaining share of its initial weights and its update count: from the EMA file's
    /// metadata, or for checkpoints written before it was recorded (fixed decay, no warm-up),
    /// from trainer.json's update count and the saved recipe's `ema_decay` (default 0.999).
    static func initialShare(of checkpoint: Checkpoint) throws -> (share: Double, updates: Int) {
        let metadata = try checkpoint.safetensors("ema.safetensors").metadata
        if let share = metadata[EMAMetadata.initialShare].flatMap(Double.init), let updates = metadata[EMAMetadata.updates].flatMap(Int.init) {
            return (share, updates)
        }
        guard let updates = try checkpoint.jsonObject("trainer.json")["emaUpdates"] as? Int else {
            throw ValidationError("\(checkpoint.file("trainer.json").path) records no 'emaUpdates'; choose with --weights ema|model")
        }
        let recipe = (try? checkpoint.text("recipe.yaml")) ?? ""
        let decay = recipe.split(separator: "\n").lazy.compactMap { line -> Double? in
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            return parts.count == 2 && parts[0] == "ema_decay" ? Double(parts[1]) : nil
        }.first ?? 0.999
        return (pow(decay, Double(updates)), updates)
    }
}
