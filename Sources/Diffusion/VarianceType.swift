/// How the DDPM sampler draws the noise it adds at each step (`variance_type`). The learned
/// variants, where the model predicts its own variance, are not supported.
public enum VarianceType: String, CaseIterable, Codable, Sendable, DiffusersNamed {
    /// The posterior variance β̃_t = (1−ᾱ_{t−1})/(1−ᾱ_t)·β_t (diffusers' default).
    case fixedSmall = "fixed_small"
    /// The same, its square root taken through the logarithm as diffusers does.
    case fixedSmallLog = "fixed_small_log"
    /// β_t itself, the upper bound.
    case fixedLarge = "fixed_large"

    public static let configurationKey = "variance_type"
}
