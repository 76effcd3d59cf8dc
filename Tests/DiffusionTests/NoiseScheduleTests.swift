import Diffusion
import Tensors
import XCTest

final class NoiseScheduleTests: XCTestCase {
    /// β and ᾱ of every schedule, with and without the zero-terminal-SNR rescale, against
    /// diffusers' float32 tables.
    func testTablesMatchDiffusers() throws {
        let tables = try SchedulerFixtures.tables.get()
        let schedules = try SchedulerFixtures.schedules()
        XCTAssertEqual(schedules.count, 6)
        for (name, configuration) in schedules.sorted(by: { $0.key < $1.key }) {
            let schedule = try NoiseSchedule(configuration)
            XCTAssertEqual(schedule.trainTimesteps, 1000)
            let expectedBetas = try tables.tensor("\(name)/betas"), expectedCumprod = try tables.tensor("\(name)/alphas_cumprod")
            let betaError = worstError(schedule.betas, expectedBetas), cumprodError = worstError(schedule.alphasCumprod, expectedCumprod)
            // ᾱ relative to its own size: near the end it is ~1e-3 (or 0), where 1e-6 absolute says little.
            var relative = 0.0
            for t in 0..<1000 {
                let a = Double(schedule.alphasCumprod[t]), b = Double(expectedCumprod[flat: t])
                relative = max(relative, b == 0 ? abs(a) : abs(a - b) / b)
            }
            let identical = (0..<1000).filter { schedule.alphasCumprod[$0] == expectedCumprod[flat: $0] }.count
            print("\(name): β error \(betaError), ᾱ error \(cumprodError) (relative \(relative)), \(identical)/1000 ᾱ bit-identical")
            XCTAssertLessThan(cumprodError, 1e-6, name)
            if configuration.rescaleBetasZeroSNR {
                // PyTorch's float32 sqrt is not correctly rounded (see `stepBudget`); the rescale's
                // cancellation turns its ulps into ~4e-6 relative.
                XCTAssertLessThan(betaError, 1e-5, name)
                XCTAssertLessThan(relative, 1e-5, name)
                XCTAssertEqual(schedule.alphasCumprod[999], 0, name)
                XCTAssertEqual(schedule.betas[999], 1, name)
            } else {
                // Bit for bit: linspace as PyTorch's kernel (fused), cumprod with its Double accumulator.
                XCTAssertEqual(schedule.betas, expectedBetas.scalars, name)
                XCTAssertEqual(schedule.alphasCumprod, expectedCumprod.scalars, name)
            }
        }
    }

    func testTimestepsMatchDiffusers() throws {
        let tables = try SchedulerFixtures.tables.get()
        let keys = try JSONDecoder().decode([String].self, from: Data(try XCTUnwrap(tables.metadata["timesteps"]).utf8))
        XCTAssertGreaterThan(keys.count, 50)
        for key in keys {
            let parts = key.split(separator: "/")  // timesteps/<spacing>/offset<k>/n<n>
            var configuration = SchedulerConfiguration()
            configuration.timestepSpacing = try TimestepSpacing(diffusersName: String(parts[1]))
            configuration.stepsOffset = Int(parts[2].dropFirst("offset".count))!
            var scheduler = try DDIMScheduler(configuration)
            try scheduler.setTimesteps(Int(parts[3].dropFirst())!)
            XCTAssertEqual(scheduler.timesteps, integers(try tables.tensor(key)), key)
        }
        // Trailing with 61 of 1000 steps: diffusers appends a spurious −1; Relief keeps 61 in range.
        var trailing = SchedulerConfiguration()
        trailing.timestepSpacing = .trailing
        var scheduler = try DDIMScheduler(trailing)
        try scheduler.setTimesteps(61)
        XCTAssertEqual(scheduler.timesteps.count, 61)
        XCTAssertEqual(scheduler.timesteps.first, 999)
        XCTAssertGreaterThanOrEqual(scheduler.timesteps.last!, 0)
    }

    func testSNRAndMinSNRWeightsMatchDiffusers() throws {
        let tables = try SchedulerFixtures.tables.get()
        let schedules = try SchedulerFixtures.schedules()
        for name in ["scaled_linear", "linear", "scaled_linear.zero_snr"] {
            let schedule = try NoiseSchedule(try XCTUnwrap(schedules[name]))
            let timesteps = integers(try tables.tensor("snr/\(name)/timesteps"))
            let snr = timesteps.map(schedule.signalToNoiseRatio)
            // SNR spans 1e-5 ... 1e3: compare relative to itself.
            let expected = try tables.tensor("snr/\(name)/snr")
            let budget = name.hasSuffix("zero_snr") ? 1e-5 : 1e-6  // see `stepBudget`
            for (i, value) in snr.enumerated() {
                XCTAssertEqual(Double(value), Double(expected[flat: i]), accuracy: budget * max(Double(expected[flat: i]), 1e-30), "\(name) t=\(timesteps[i])")
            }
            for type in PredictionType.allCases {
                guard let reference = try? tables.tensor("snr/\(name)/min_snr_\(type.rawValue)") else { continue }
                let weights = LossWeighting.minSNR(gamma: 5).weights(timesteps: timesteps, schedule: schedule, predictionType: type)
                XCTAssertLessThan(worstError(weights, reference), budget, "\(name) \(type)")
            }
        }
        let schedule = try NoiseSchedule(.stableDiffusion)
        XCTAssertEqual(LossWeighting.uniform.weights(timesteps: [3, 999], schedule: schedule, predictionType: .velocity), [1, 1])
    }

    /// add_noise and get_velocity with a timestep per row, and the same with one timestep per
    /// group of rows (FaceLift's views sharing their sample's t).
    func testNoisingMatchesDiffusers() throws {
        let tables = try SchedulerFixtures.tables.get()
        let schedules = try SchedulerFixtures.schedules()
        for name in ["scaled_linear", "scaled_linear.zero_snr"] {
            let schedule = try NoiseSchedule(try XCTUnwrap(schedules[name]))
            let original = try tables.tensor("noising/\(name)/original"), noise = try tables.tensor("noising/\(name)/noise")
            let timesteps = integers(try tables.tensor("noising/\(name)/timesteps"))
            let noisy = schedule.addNoise(to: original, noise: noise, timesteps: timesteps)
            let velocity = schedule.velocity(original: original, noise: noise, timesteps: timesteps)
            XCTAssertLessThan(worstError(noisy, try tables.tensor("noising/\(name)/noisy")), 1e-6, name)
            XCTAssertLessThan(worstError(velocity, try tables.tensor("noising/\(name)/velocity")), 1e-6, name)
            XCTAssertEqual(schedule.target(for: .velocity, original: original, noise: noise, timesteps: timesteps).scalars, velocity.scalars)

            // Two samples of three rows each: the first three rows at t=999, the others at t=17.
            let grouped = schedule.addNoise(to: original, noise: noise, timesteps: [999, 17])
            let perRow = schedule.addNoise(to: original, noise: noise, timesteps: [999, 999, 999, 17, 17, 17])
            XCTAssertEqual(grouped.scalars, perRow.scalars)
            XCTAssertNotEqual(grouped.scalars, schedule.addNoise(to: original, noise: noise, timesteps: [17, 999]).scalars)
        }
    }

    /// Every conversion between ε, v and x₀ inverts the forward process.
    func testPredictionConversionsRecoverTheTruth() throws {
        let schedule = try NoiseSchedule(.stableDiffusion)
        var rng = Philox(seed: 11)
        let original = Tensor.normal([4, 3, 5], rng: &rng), noise = Tensor.normal([4, 3, 5], rng: &rng)
        let timesteps = [0, 250, 600, 999]
        let sample = schedule.addNoise(to: original, noise: noise, timesteps: timesteps)
        let truth: [PredictionType: Tensor] = [
            .epsilon: noise, .sample: original, .velocity: schedule.velocity(original: original, noise: noise, timesteps: timesteps),
        ]
        for from in PredictionType.allCases {
            for to in PredictionType.allCases {
                let converted = schedule.convert(truth[from]!, from: from, to: to, sample: sample, timesteps: timesteps)
                // ε from x₀ at t = 0 divides by √(1−ᾱ_0) ≈ 0.03: Float error grows by ~30×.
                XCTAssertLessThan(worstError(converted, truth[to]!), 1e-4, "\(from) → \(to)")
            }
        }
        // Against the Double formulas, element by element.
        let v = truth[.velocity]!
        for i in 0..<original.count {
            let t = timesteps[i / 15], a = Double(schedule.alphasCumprod[t])
            XCTAssertEqual(Double(v[flat: i]), a.squareRoot() * Double(noise[flat: i]) - (1 - a).squareRoot() * Double(original[flat: i]), accuracy: 1e-6)
        }
    }

    /// The combination kernel's backward (x̂₀ and ε̂ from a tracked v̂, for losses on the
    /// decoded prediction) against finite differences.
    func testConversionGradientsMatchFiniteDifferences() throws {
        let schedule = try NoiseSchedule(.stableDiffusion)
        var rng = Philox(seed: 5)
        let velocity = Tensor.normal([4, 2, 3], rng: &rng), sample = Tensor.normal([4, 2, 3], rng: &rng)
        for type in [PredictionType.velocity, .epsilon] {
            let error = maxGradientError(inputs: [velocity, sample], epsilon: 1e-2) { xs in
                let x0 = schedule.originalSample(from: xs[0], as: type, sample: xs[1], timesteps: [10, 700])
                let eps = schedule.noise(from: xs[0], as: type, sample: xs[1], timesteps: [10, 700])
                return x0 * 0.5 + eps + xs[0]  // the same tensor twice: stored, then accumulated
            }
            XCTAssertLessThan(error, 1e-2, "\(type)")
        }
    }
}
