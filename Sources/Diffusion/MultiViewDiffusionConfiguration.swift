import Foundation
import Layers

/// What a multi-view diffusion checkpoint needs besides its UNet's own (diffusers) configuration:
/// the stage, the views it generates, how its attention spans them, its conditioning encoder and
/// its noise schedule. Stored as JSON in the checkpoint's `mvdiffusion_config` metadata.
public struct MultiViewDiffusionConfiguration: Codable, Equatable, Sendable {
    /// `low`: the plain process, structure first (or a single-stage model at any size);
    /// `high`: ID-TS's two-stage residual process, denoising towards a blend of noise and the
    /// upsampled low-stage result (`TwoStageResidualProcess`).
    public enum Stage: String, Codable, CaseIterable, Sendable { case low, high }

    public var stage = Stage.low
    /// Side of the generated views, in pixels.
    public var imageSize = 64
    /// The low stage's image side (high stage only): its outputs are upsampled from it.
    public var lowResolutionSize: Int?
    /// Azimuths of the generated views relative to the condition view, in generation order.
    /// With input-view reconstruction the first is 0 (view 0 is the condition camera).
    public var viewAzimuthsDegrees = [0.0, 45, 90, 180, 270, 315]
    public var multiView = MultiViewAttention.dense
    /// sin/cos of k·azimuth for k = 1…`cameraFrequencies`: the per-view camera embedding.
    public var cameraFrequencies = 4
    /// ξ1, ξ2 of the two-stage process (high stage only).
    public var noiseWeight: Float = 0.4
    public var lowResolutionWeight: Float = 0.6
    public var conditionEncoder = ConditionEncoder.Configuration()
    /// Width of the identity embedding of the condition view (ID-TS's identity guidance: a
    /// frozen face-identity encoder's embedding joins the `class_labels` and is projected to one
    /// more cross-attention token); nil = no identity guidance.
    public var identityDimension: Int?
    public var scheduler = SchedulerConfiguration.stableDiffusion

    public init() {}

    /// The checkpoint metadata key holding `json()`; the UNet's diffusers configuration is under
    /// `UNet2DConditionConfiguration.metadataKey`.
    public static let metadataKey = "mvdiffusion_config"

    public var views: Int { viewAzimuthsDegrees.count }
    /// Width of the UNet's `class_labels`: the global image embedding, the identity embedding
    /// (with identity guidance), then the camera features.
    public var classLabelDimension: Int { conditionEncoder.globalDimension + (identityDimension ?? 0) + 2 * cameraFrequencies }

    enum CodingKeys: String, CodingKey {
        case stage, imageSize = "image_size", lowResolutionSize = "low_resolution_size"
        case viewAzimuthsDegrees = "view_azimuths_degrees", multiView = "multiview_attention"
        case cameraFrequencies = "camera_frequencies", noiseWeight = "xi1", lowResolutionWeight = "xi2"
        case conditionEncoder = "condition_encoder", identityDimension = "identity_dim", scheduler
    }

    /// Throws, naming the key, when the configuration cannot describe a model.
    public func validate() throws {
        func fail(_ key: String, _ message: String) -> DiffusionConfigurationError { .init(key: key, message: message) }
        if imageSize < 8 { throw fail("image_size", "is \(imageSize); must be at least 8") }
        if viewAzimuthsDegrees.isEmpty { throw fail("view_azimuths_degrees", "is empty") }
        if let d = identityDimension, d < 1 { throw fail("identity_dim", "is \(d); must be at least 1 (or absent: no identity guidance)") }
        if cameraFrequencies < 1 { throw fail("camera_frequencies", "is \(cameraFrequencies); must be at least 1") }
        if stage == .high {
            guard let low = lowResolutionSize, low >= 4, low < imageSize else {
                throw fail("low_resolution_size", "is \(lowResolutionSize.map(String.init) ?? "missing"); the high stage needs "
                           + "the low stage's image side, smaller than image_size (\(imageSize))")
            }
            if !(noiseWeight > 0) { throw fail("xi1", "is \(noiseWeight); must be positive") }
            if !(lowResolutionWeight >= 0) { throw fail("xi2", "is \(lowResolutionWeight); must be ≥ 0") }
        }
        if scheduler.predictionType != .velocity {
            throw fail("scheduler.prediction_type", "is '\(scheduler.predictionType.rawValue)'; the multi-view model predicts v (v_prediction)")
        }
        try scheduler.validate()
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    public static func fromJSON(_ text: String, source: String) throws -> MultiViewDiffusionConfiguration {
        do {
            let c = try JSONDecoder().decode(MultiViewDiffusionConfiguration.self, from: Data(text.utf8))
            try c.validate()
            return c
        } catch let error as DiffusionConfigurationError {
            throw DiffusionConfigurationError(key: error.key, message: "\(error.message) (in \(source))")
        } catch {
            throw DiffusionConfigurationError(key: metadataKey, message: "in \(source) cannot be read: \(error)")
        }
    }
}
