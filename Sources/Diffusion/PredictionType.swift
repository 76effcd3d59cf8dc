/// What the denoiser's output means, under diffusers' names (`prediction_type`).
public enum PredictionType: String, CaseIterable, Codable, Sendable, DiffusersNamed {
    /// The noise ε that was added.
    case epsilon
    /// The velocity v = √ᾱ·ε − √(1−ᾱ)·x₀ (Salimans & Ho), which FaceLift and ID-TS train.
    case velocity = "v_prediction"
    /// The clean sample x₀ itself.
    case sample

    public static let configurationKey = "prediction_type"
}

/// A diffusion configuration value that cannot be used, naming its key.
public struct DiffusionConfigurationError: Error, CustomStringConvertible {
    public let key: String
    public let message: String
    public init(key: String, message: String) { self.key = key; self.message = message }
    public var description: String { "\(key) \(message)" }
}
