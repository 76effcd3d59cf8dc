import Datasets
import Foundation
import Layers
import Reconstruction
import Splatting
import Tensors

/// `model.kind: gslrm` — the GS-LRM reconstructor. Each sample's first `views.inputs` views go
/// in (random views, or with `views.inputs: diffusion` the six diffusion views of α, as the
/// pipeline feeds it); the Gaussians are rendered into all `views.supervision` views (inputs included) and
/// compared with the ground truth. Evaluation scores only the novel views (supervision views
/// that were not inputs) against a trivial baseline. Keys: see recipes/README.md.
public final class ReconstructionTask: TrainingTask {
    let network: GSLRM
    let imageLoss: ReconstructionLoss
    let inputs: Int
    public var model: any Module { network }
    public let viewSelection: ViewSelection
    public var checkpointMetadata: [String: String] { [GSLRMConfiguration.metadataKey: network.configuration.json()] }
    public var summary: String { "loss: " + imageLoss.summary }

    public init(recipe: Recipe) throws {
        let m = recipe.model.section
        var c = GSLRMConfiguration()
        c.width = try m.int("width", default: c.width, min: 1)
        c.layers = try m.int("layers", default: c.layers, min: 0)
        c.heads = try m.int("heads", default: c.heads, min: 1)
        c.patchSize = try m.int("patch_size", default: c.patchSize, min: 1)
        c.plucker = GSLRMConfiguration.PluckerLayout(rawValue: try m.string(
            "plucker", default: c.plucker.rawValue, oneOf: GSLRMConfiguration.PluckerLayout.allCases.map(\.rawValue)))!
        c.depthHalfRange = Float(try m.double("depth_half_range", default: Double(c.depthHalfRange), min: 0, exclusiveMin: true))
        c.scaleBias = Float(try m.double("scale_bias", default: Double(c.scaleBias)))
        c.maxLogScale = Float(try m.double("max_log_scale", default: Double(c.maxLogScale)))
        c.opacityBias = Float(try m.double("opacity_bias", default: Double(c.opacityBias)))
        c.inputViews = recipe.views.inputs
        let manifest = try Manifest.read(dataset: recipe.data.train)
        guard manifest.height == manifest.width else {
            throw recipe.error("data.train", "holds \(manifest.width)×\(manifest.height) views (\(recipe.data.train)/\(Manifest.fileName)); gslrm needs square views")
        }
        c.resolution = manifest.width
        // Each size check blames the key that can fix it.
        if c.width % c.heads != 0 { throw m.error("heads", nil, "is \(c.heads): width \(c.width) is not divisible by heads \(c.heads)") }
        if c.resolution % c.patchSize != 0 {
            throw m.error("patch_size", nil, "describes no model: resolution \(c.resolution) is not divisible by patch size \(c.patchSize) (the resolution is data.train's view size)")
        }
        if let problem = c.problem { throw m.error("kind", nil, "gslrm describes no model: \(problem)") }
        let ssimWeight = Float(try m.double("ssim_weight", default: 0, min: 0))
        let (perceptualWeight, perceptual) = try m.perceptualLoss()
        imageLoss = ReconstructionLoss(ssimWeight: ssimWeight, perceptualWeight: perceptualWeight, perceptual: perceptual)
        network = GSLRM(c)
        inputs = recipe.views.inputs
        viewSelection = recipe.views.diffusionInputSelection
            ?? .random(inputs: inputs, supervision: recipe.views.supervision - inputs, nearInputs: recipe.views.nearInputs)
    }

    /// Each sample's Gaussians, from its input views, rendered into its `views`: [B, V, 3, H, W].
    func render(_ batch: Batch, views: Range<Int>) -> Tensor {
        let gaussians = network.reconstruct(images: batch.images.sliced(axis: 1, range: 0..<inputs),
                                            cameras: batch.cameras(views: 0..<inputs))
        return gaussians.render(batch.cameras(views: views), backgrounds: batch.background).rgb
    }

    public func loss(on batch: Batch, rng: inout Philox) -> (loss: Tensor, metrics: [String: Double]) {
        var (loss, parts) = imageLoss(render(batch, views: 0..<batch.images.shape[1]), batch.images)
        parts["psnr"] = -10 * log10(max(parts["mse"]!, 1e-10))
        return (loss, parts)
    }

    /// PSNR and SSIM of the novel views per sample, averaged; beside them the PSNR of a trivial
    /// prediction, the pixelwise mean of the sample's input views, for every novel view.
    public func evaluate(on batches: [Batch], gridPath: String?) throws -> [String: Double] {
        var psnrSum = 0.0, ssimSum = 0.0, baselineSum = 0.0, count = 0
        var rows: [[Tensor]] = []
        for batch in batches where batch.count > 0 {
            let viewCount = batch.images.shape[1]
            guard viewCount > inputs else { continue }
            let novel = inputs..<viewCount
            let rgb = render(batch, views: novel)
            let truth = batch.images.sliced(axis: 1, range: novel), given = batch.images.sliced(axis: 1, range: 0..<inputs)
            for b in 0..<batch.count {
                let (predicted, expected, inputImages) = (item(rgb, b), item(truth, b), item(given, b))  // [V, 3, H, W]
                psnrSum += psnr(predicted, expected)
                ssimSum += 1 - Double(ssimLoss(predicted, expected)[flat: 0])
                let meanInput = inputImages.mean(axes: [0], keepDims: true)
                baselineSum += psnr(concat(Array(repeating: meanInput, count: novel.count), axis: 0), expected)
                count += 1
                if rows.count < 6 {
                    rows.append([inputImages, predicted, expected].flatMap { t in (0..<t.shape[0]).map { item(t, $0) } })
                }
            }
        }
        if let gridPath { try ImageGrid.write(rows, to: gridPath) }
        let n = Double(max(count, 1))
        return ["psnr": psnrSum / n, "ssim": ssimSum / n, "psnr_mean_input_baseline": baselineSum / n]
    }
}
