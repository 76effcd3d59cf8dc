import Foundation

/// A noise scheduler's configuration under diffusers' field names, as a `scheduler_config.json`
/// holds it. DDPM and DDIM share it: DDIM reads `set_alpha_to_one`, DDPM reads `variance_type`,
/// and each ignores the other's (diffusers' own configs carry both kinds of keys across
/// schedulers). A missing key takes diffusers' default, so older configurations keep loading;
/// unknown keys (`_class_name`, `_diffusers_version`, …) are ignored. A value of the wrong type
/// or out of range is a `DiffusionConfigurationError` naming its key.
public struct SchedulerConfiguration: Codable, Equatable, Sendable {
    public var numTrainTimesteps = 1000
    public var betaStart = 0.0001
    public var betaEnd = 0.02
    public var betaSchedule = BetaSchedule.linear
    /// Explicit betas, overriding the schedule (one per training step).
    public var trainedBetas: [Double]? = nil
    public var predictionType = PredictionType.epsilon
    public var timestepSpacing = TimestepSpacing.leading
    public var stepsOffset = 0
    /// DDIM: ᾱ after the last step is 1 (else ᾱ_0).
    public var setAlphaToOne = true
    /// Clamp the predicted x₀ to ±`clip_sample_range` (pixel-space models; latents leave it off).
    public var clipSample = true
    public var clipSampleRange = 1.0
    /// Rescale the betas so that ᾱ_{T−1} = 0 exactly (Lin et al., "Common Diffusion Noise
    /// Schedules and Sample Steps Are Flawed").
    public var rescaleBetasZeroSNR = false
    /// DDPM: the variance of the noise added at each step.
    public var varianceType = VarianceType.fixedSmall
    /// Dynamic thresholding (Imagen) is not implemented: the key is accepted only when false.
    public var thresholding = false

    public init() {}

    /// Stable Diffusion 2.x's schedule, which FaceLift trains with: 1000 steps, `scaled_linear`
    /// from 0.00085 to 0.012, `steps_offset` 1, v-prediction, no clipping.
    public static var stableDiffusion: SchedulerConfiguration {
        var c = SchedulerConfiguration()
        c.betaStart = 0.00085
        c.betaEnd = 0.012
        c.betaSchedule = .scaledLinear
        c.predictionType = .velocity
        c.stepsOffset = 1
        c.setAlphaToOne = false
        c.clipSample = false
        return c
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case numTrainTimesteps = "num_train_timesteps", betaStart = "beta_start", betaEnd = "beta_end"
        case betaSchedule = "beta_schedule", trainedBetas = "trained_betas", predictionType = "prediction_type"
        case timestepSpacing = "timestep_spacing", stepsOffset = "steps_offset", setAlphaToOne = "set_alpha_to_one"
        case clipSample = "clip_sample", clipSampleRange = "clip_sample_range"
        case rescaleBetasZeroSNR = "rescale_betas_zero_snr", varianceType = "variance_type", thresholding
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        /// The value under `key`; nil when the key is missing or null.
        func decoded<T: Decodable>(_ key: CodingKeys) throws -> T? {
            do { return try c.decodeIfPresent(T.self, forKey: key) } catch {
                throw DiffusionConfigurationError(key: key.rawValue, message: "is not a valid \(T.self): \(Self.reason(error))")
            }
        }
        func read<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T { try decoded(key) ?? fallback }
        func choice<T: DiffusersNamed>(_ key: CodingKeys, _ fallback: T) throws -> T {
            guard let name: String = try decoded(key) else { return fallback }
            return try T(diffusersName: name)
        }
        numTrainTimesteps = try read(.numTrainTimesteps, numTrainTimesteps)
        betaStart = try read(.betaStart, betaStart)
        betaEnd = try read(.betaEnd, betaEnd)
        betaSchedule = try choice(.betaSchedule, betaSchedule)
        trainedBetas = try decoded(.trainedBetas) as [Double]?
        predictionType = try choice(.predictionType, predictionType)
        timestepSpacing = try choice(.timestepSpacing, timestepSpacing)
        stepsOffset = try read(.stepsOffset, stepsOffset)
        setAlphaToOne = try read(.setAlphaToOne, setAlphaToOne)
        clipSample = try read(.clipSample, clipSample)
        clipSampleRange = try read(.clipSampleRange, clipSampleRange)
        rescaleBetasZeroSNR = try read(.rescaleBetasZeroSNR, rescaleBetasZeroSNR)
        varianceType = try choice(.varianceType, varianceType)
        thresholding = try read(.thresholding, thresholding)
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(numTrainTimesteps, forKey: .numTrainTimesteps)
        try c.encode(betaStart, forKey: .betaStart)
        try c.encode(betaEnd, forKey: .betaEnd)
        try c.encode(betaSchedule, forKey: .betaSchedule)
        try c.encodeIfPresent(trainedBetas, forKey: .trainedBetas)
        try c.encode(predictionType, forKey: .predictionType)
        try c.encode(timestepSpacing, forKey: .timestepSpacing)
        try c.encode(stepsOffset, forKey: .stepsOffset)
        try c.encode(setAlphaToOne, forKey: .setAlphaToOne)
        try c.encode(clipSample, forKey: .clipSample)
        try c.encode(clipSampleRange, forKey: .clipSampleRange)
        try c.encode(rescaleBetasZeroSNR, forKey: .rescaleBetasZeroSNR)
        try c.encode(varianceType, forKey: .varianceType)
        try c.encode(thresholding, forKey: .thresholding)
    }

    /// Reads a diffusers `scheduler_config.json`; errors name the file and the key.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DiffusionConfigurationError(key: url.path, message: "cannot be read: \(error.localizedDescription)")
        }
        do { self = try JSONDecoder().decode(Self.self, from: data) } catch let error as DiffusionConfigurationError {
            throw DiffusionConfigurationError(key: error.key, message: "\(error.message) (in \(url.path))")
        } catch {
            throw DiffusionConfigurationError(key: url.path, message: "is not a JSON object: \(Self.reason(error))")
        }
    }

    /// Throws for values no schedule can be built from, naming the key.
    public func validate() throws {
        func fail(_ key: CodingKeys, _ message: String) -> DiffusionConfigurationError {
            DiffusionConfigurationError(key: key.rawValue, message: message)
        }
        guard numTrainTimesteps >= 2 else { throw fail(.numTrainTimesteps, "is \(numTrainTimesteps); needs at least 2") }
        if let trainedBetas {
            guard trainedBetas.count == numTrainTimesteps else {
                throw fail(.trainedBetas, "has \(trainedBetas.count) values for num_train_timesteps \(numTrainTimesteps)")
            }
            if let bad = trainedBetas.firstIndex(where: { !($0 > 0 && $0 <= 1) }) {
                throw fail(.trainedBetas, "value \(bad) is \(trainedBetas[bad]); betas lie in (0, 1]")
            }
        } else if betaSchedule != .squaredCosineCapV2 {
            guard betaStart > 0, betaStart < 1 else { throw fail(.betaStart, "is \(betaStart); needs 0 < beta_start < 1") }
            guard betaEnd >= betaStart, betaEnd < 1 else {
                throw fail(.betaEnd, "is \(betaEnd); needs beta_start (\(betaStart)) ≤ beta_end < 1")
            }
        }
        guard stepsOffset >= 0, stepsOffset < numTrainTimesteps else {
            throw fail(.stepsOffset, "is \(stepsOffset); needs 0 ≤ steps_offset < num_train_timesteps (\(numTrainTimesteps))")
        }
        guard clipSampleRange > 0, clipSampleRange.isFinite else { throw fail(.clipSampleRange, "is \(clipSampleRange); needs a positive number") }
        guard !thresholding else { throw fail(.thresholding, "is true; dynamic thresholding is not implemented in Relief") }
    }

    /// The part of a decoding error worth showing (its debug description, not the coding path).
    static func reason(_ error: Error) -> String {
        switch error {
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
             DecodingError.dataCorrupted(let context), DecodingError.keyNotFound(_, let context):
            return context.debugDescription
        default: return "\(error)"
        }
    }
}
