import Foundation

/// How the per-step noise variances β_t are laid out over the training steps (`beta_schedule`).
///
/// The values are diffusers' float32 ones, bit for bit: `torch.linspace(…, dtype=float32)` as
/// PyTorch's CPU kernel evaluates it, and the cosine schedule in Double, then rounded, as
/// `betas_for_alpha_bar` builds a Python list and converts it (the fixture test checks).
public enum BetaSchedule: String, CaseIterable, Codable, Sendable, DiffusersNamed {
    /// β linear from `beta_start` to `beta_end` (DDPM).
    case linear
    /// √β linear from √`beta_start` to √`beta_end` (Stable Diffusion: 0.00085 to 0.012).
    case scaledLinear = "scaled_linear"
    /// ᾱ(t) = cos²((t/T + 0.008)/1.008 · π/2), each β capped at 0.999 (Nichol & Dhariwal);
    /// `beta_start` and `beta_end` are ignored.
    case squaredCosineCapV2 = "squaredcos_cap_v2"

    public static let configurationKey = "beta_schedule"

    /// The `count` betas, in float32 as diffusers holds them.
    public func betas(count: Int, start: Double, end: Double) -> [Float] {
        switch self {
        case .linear:
            return Self.float32Linspace(from: Float(start), to: Float(end), count: count)
        case .scaledLinear:
            return Self.float32Linspace(from: Float(start.squareRoot()), to: Float(end.squareRoot()), count: count).map { $0 * $0 }
        case .squaredCosineCapV2:
            func alphaBar(_ t: Double) -> Double { let c = cos((t + 0.008) / 1.008 * Double.pi / 2); return c * c }
            return (0..<count).map { i in
                let t1 = Double(i) / Double(count), t2 = Double(i + 1) / Double(count)
                return Float(min(1 - alphaBar(t2) / alphaBar(t1), 0.999))
            }
        }
    }

    /// `torch.linspace(start, end, count, dtype=torch.float32)` on the CPU: step (end − start)/(count − 1)
    /// in Float; the first half counts up from `start`, the second half down from `end`, each value
    /// one fused multiply-add (PyTorch's kernel is compiled with FMA contraction: with separate
    /// roundings a fifth of the betas differ by an ulp, which the zero-terminal-SNR rescale
    /// amplifies to 1e-5 in ᾱ).
    static func float32Linspace(from start: Float, to end: Float, count: Int) -> [Float] {
        if count == 1 { return [start] }
        let step = (end - start) / Float(count - 1)
        let halfway = count / 2
        return (0..<count).map { i in
            i < halfway ? start.addingProduct(step, Float(i)) : end.addingProduct(-step, Float(count - i - 1))
        }
    }
}
