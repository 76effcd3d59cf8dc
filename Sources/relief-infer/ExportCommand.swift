import ArgumentParser
import Diffusion
import Foundation

/// Converts a trained Relief model into another tool's format. Today: a VAE into a diffusers
/// AutoencoderKL folder that `AutoencoderKL.from_pretrained(OUT)` loads, or a UNet into a
/// UNet2DConditionModel folder (multi-view attention is a processor choice in diffusers:
/// scripts/fixtures/multiview_attention.py).
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a trained VAE or UNet as a diffusers AutoencoderKL or UNet2DConditionModel folder.",
        discussion: "Writes OUT/config.json and OUT/diffusion_pytorch_model.safetensors (diffusers' key names, F32).")

    enum Format: String, ExpressibleByArgument { case diffusers }

    @Option(help: "A Relief VAE or UNet run or step folder (its weights' metadata says which).") var checkpoint: String
    @Option(help: "Output format.") var format: Format = .diffusers
    @Option(help: "Output folder (created if missing).") var out: String
    @Flag(help: "Export model.safetensors even when the checkpoint has EMA weights.") var noEMA = false

    func run() throws {
        if UNet2DConditionModel.isStored(at: checkpoint) {
            let (model, source) = try UNet2DConditionModel.load(path: checkpoint, preferEMA: !noEMA)
            try model.save(folder: URL(fileURLWithPath: out))
            print("\(out): diffusers UNet2DConditionModel from \(source) (\(model.parameterCount) parameters, block_out_channels "
                  + "\(model.configuration.blockOutChannels))")
            return
        }
        let (model, source) = try AutoencoderKL.load(path: checkpoint, preferEMA: !noEMA)
        try model.saveDiffusers(to: URL(fileURLWithPath: out))
        let c = model.configuration
        print("\(out): diffusers AutoencoderKL from \(source) (\(model.parameterCount) parameters, block_out_channels "
              + "\(c.blockOutChannels), scaling_factor \(c.scalingFactor))")
    }
}
