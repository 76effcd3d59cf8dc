import Tensors

/// Which of the training timesteps a sampler with fewer steps visits (`timestep_spacing`), as
/// diffusers' `set_timesteps` chooses them (integer timesteps, descending).
public enum TimestepSpacing: String, CaseIterable, Codable, Sendable, DiffusersNamed {
    /// 0, k, 2k, … (k = T div n) plus `steps_offset`: Stable Diffusion's choice (offset 1).
    case leading
    /// T − 1, T − 1 − T/n, …: starts at the last training step, which zero-terminal-SNR needs.
    case trailing
    /// n values evenly spread over [0, T − 1], rounded half to even.
    case linspace

    public static let configurationKey = "timestep_spacing"

    /// The `inferenceSteps` timesteps, descending. Mirrors NumPy's arithmetic exactly (NumPy's
    /// `arange` fills start + i·(second − start) in Double), except that for trailing spacing
    /// with some step counts (e.g. 61 of 1000) NumPy's float `arange` yields one extra value that
    /// becomes timestep −1; Relief keeps the n meant.
    public func timesteps(inferenceSteps n: Int, trainTimesteps count: Int, stepsOffset: Int) -> [Int] {
        check(n >= 1 && n <= count, "\(n) inference steps for \(count) training steps")
        switch self {
        case .leading:
            let ratio = count / n
            return (0..<n).reversed().map { $0 * ratio + stepsOffset }
        case .trailing:
            let first = Double(count), delta = (first - Double(count) / Double(n)) - first
            return (0..<n).map { Int((first + Double($0) * delta).rounded(.toNearestOrEven)) - 1 }
        case .linspace:
            if n == 1 { return [0] }
            let step = Double(count - 1) / Double(n - 1)
            return (0..<n).reversed().map { $0 == n - 1 ? count - 1 : Int((Double($0) * step).rounded(.toNearestOrEven)) }
        }
    }
}
