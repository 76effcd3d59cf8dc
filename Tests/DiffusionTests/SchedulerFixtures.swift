import Checkpoints
import Diffusion
import Foundation
import Tensors
import XCTest

/// The safetensors fixtures `scripts/fixtures/make_scheduler_fixtures.py` made with diffusers.
enum SchedulerFixtures {
    static func file(_ name: String) throws -> SafetensorsFile {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "safetensors"))
        return try SafetensorsFile(contentsOf: url)
    }

    static let tables = Result { try file("scheduler_tables") }
    static let ddim = Result { try file("ddim_steps") }
    static let ddpm = Result { try file("ddpm_steps") }

    /// One step-fixture case: diffusers' scheduler config (as config.json holds it) and its steps.
    struct Case: Decodable {
        let name: String
        let config: SchedulerConfiguration
        let num_inference_steps: Int?
        let eta: Float?
        let use_clipped_model_output: Bool
        let steps: [Int]
    }

    static func cases(_ file: SafetensorsFile) throws -> [Case] {
        try JSONDecoder().decode([Case].self, from: Data(try XCTUnwrap(file.metadata["cases"]).utf8))
    }

    /// The diffusers scheduler configs of the tables fixture, by schedule name.
    static func schedules() throws -> [String: SchedulerConfiguration] {
        let json = try XCTUnwrap(try tables.get().metadata["schedules"])
        return try JSONDecoder().decode([String: SchedulerConfiguration].self, from: Data(json.utf8))
    }
}

/// max |a − b| / max(1, |b|): absolute below 1, relative above.
func worstError(_ actual: Tensor, _ expected: Tensor) -> Double {
    XCTAssertEqual(actual.shape, expected.shape)
    guard actual.shape == expected.shape else { return .infinity }
    var worst = 0.0
    for i in 0..<expected.count {
        let a = Double(actual[flat: i]), b = Double(expected[flat: i])
        let error = abs(a - b) / max(1, abs(b))
        worst = max(worst, error.isNaN ? .infinity : error)
    }
    return worst
}

func worstError(_ actual: [Float], _ expected: Tensor) -> Double {
    worstError(Tensor(actual, shape: [actual.count]), expected.viewing(as: [expected.count]))
}

/// Integer timesteps stored as int64 (read back as exact Floats).
func integers(_ t: Tensor) -> [Int] { t.scalars.map { Int($0) } }

/// The error budget of one fixture step: 1e-6 (max(1, |value|)-relative), times what the step
/// does to Float rounding of its scalars. PyTorch's float32 `sqrt` on this AVX2 build is not
/// correctly rounded (one ulp off for about a fifth of inputs, measured), so diffusers' √ᾱ and
/// √(1−ᾱ) may differ from Relief's (IEEE) by an ulp: x̂₀ = (z − √(1−ᾱ)·ε̂)/√ᾱ magnifies that by
/// 1/√ᾱ (156 at the linear schedule's last step), ε̂ = (z − √ᾱ·x̂₀)/√(1−ᾱ) by 1/√(1−ᾱ). The same
/// sqrt makes diffusers' zero-terminal-SNR tables differ from Relief's by up to 4e-6 relative
/// (3.6e-7 absolute; the rescale's cancellation amplifies the ulps), hence 1e-5 for those.
/// Last, at ᾱ_t = 0 with η > 0 DDIM's direction coefficient √(1−ᾱ'−σ²) is the root of pure
/// rounding (σ² = 1−ᾱ' exactly in real numbers): ≤ √(4 ulp) ≈ 5e-4 times |ε̂| ≤ 4.5 here.
func stepBudget(_ c: SchedulerFixtures.Case, schedule: NoiseSchedule, timestep t: Int) -> (original: Double, previous: Double) {
    let a = Double(schedule.alphasCumprod[t])
    let base = c.config.rescaleBetasZeroSNR ? 1e-5 : 1e-6
    let originalGain = c.config.predictionType == .epsilon ? 1 / a.squareRoot() : 1
    let noiseGain = c.config.predictionType == .sample || c.use_clipped_model_output ? 1 / (1 - a).squareRoot() : 1
    if a == 0, let eta = c.eta, eta > 0 { return (base * originalGain, 2.5e-3) }
    return (base * originalGain, base * max(originalGain, noiseGain))
}
