import ArgumentParser
import Diffusion
import Foundation

/// Converts a trained Relief model into another tool's format. Today: a VAE into a diffusers
/// AutoencoderKL folder that `AutoencoderKL.from_pretrained(OUT)` loads.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a trained VAE as a diffusers AutoencoderKL folder.",
        discussion: "Writes OUT/config.json and OUT/diffusion_pytorch_model.safetensors (diffusers' key names, F32).")

    enum Format: String, ExpressibleByArgument { case diffusers }

    @Option(help: "A Relief VAE run or step folder (model.kind vae).") var checkpoint: String
    @Option(help: "Output format.") var format: Format = .diffusers
    @Option(help: "Output folder (created if missing).") var out: String
    @Flag(help: "Export model.safetensors even when the checkpoint has EMA weights.") var noEMA = false

    func run() throws {
        let (model, source) = try AutoencoderKL.load(path: checkpoint, preferEMA: !noEMA)
        try model.saveDiffusers(to: URL(fileURLWithPath: out))
        let c = model.configuration
        print("\(out): diffusers AutoencoderKL from \(source) (\(model.parameterCount) parameters, block_out_channels "
              + "\(c.blockOutChannels), scaling_factor \(c.scalingFactor))")
    }
}
