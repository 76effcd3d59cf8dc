import Diffusion
import Tensors
import XCTest

/// DIFFUSION.md's checks of the two-stage residual process.
final class TwoStageResidualProcessTests: XCTestCase {
    static let weights: [(Float, Float)] = [(0.4, 0.6), (0.5, 0.5)]

    static func zeroSNR() -> SchedulerConfiguration {
        var c = SchedulerConfiguration.stableDiffusion
        c.rescaleBetasZeroSNR = true
        c.timestepSpacing = .trailing
        return c
    }

    /// 1. With ξ = (1, 0) the process is plain v-prediction DDIM: deterministic and stochastic
    /// steps against diffusers' DDIMScheduler.step on every unclipped v-prediction case.
    func testReducesToDiffusersDDIM() throws {
        let file = try SchedulerFixtures.ddim.get()
        var rng = Philox(seed: 21)
        var checked = 0, worst = 0.0
        for c in try SchedulerFixtures.cases(file) where c.config.predictionType == .velocity && !c.config.clipSample {
            var scheduler = try DDIMScheduler(c.config)
            try scheduler.setTimesteps(try XCTUnwrap(c.num_inference_steps))
            let process = try TwoStageResidualProcess(scheduler: scheduler, noiseWeight: 1, lowResolutionWeight: 0)
            for (k, t) in c.steps.enumerated() {
                let velocity = try file.tensor("inputs/model_output.\(k)"), sample = try file.tensor("inputs/sample.\(k)")
                let lowResolution = Tensor.normal(sample.shape, rng: &rng)  // weighs 0: must not leak in
                let eta = try XCTUnwrap(c.eta)
                let out = process.stochasticStep(velocity: velocity, timestep: t, previousTimestep: scheduler.previousTimestep(t),
                                                 sample: sample, lowResolution: lowResolution, eta: eta,
                                                 noise: try file.tensor("inputs/noise.\(k)"))
                let expected = try file.tensor("\(c.name)/prev.\(k)")
                let errors = [worstError(out.previousSample, expected), worstError(out.predictedOriginalSample, try file.tensor("\(c.name)/x0.\(k)"))]
                let budget = stepBudget(c, schedule: scheduler.schedule, timestep: t)
                if eta == 0 {
                    let deterministic = process.step(velocity: velocity, timestep: t, previousTimestep: scheduler.previousTimestep(t), sample: sample)
                    XCTAssertLessThan(worstError(deterministic.previousSample, expected), budget.previous, "\(c.name) step \(k)")
                }
                XCTAssertLessThan(errors[0], budget.previous, "\(c.name) step \(k) (t = \(t)) previous sample")
                XCTAssertLessThan(errors[1], budget.original, "\(c.name) step \(k) (t = \(t)) x̂₀")
                worst = max(worst, errors[0] / budget.previous, errors[1] / budget.original)
                checked += 1
            }
        }
        XCTAssertEqual(checked, 45)  // 9 SD + 6 zero-SNR cases × 3 steps
        print("two-stage at ξ = (1, 0) vs diffusers DDIM: worst error / budget \(worst) over \(checked) steps")
    }

    /// 1. …and plain DDPM: the stochastic step at η = 1 between DDPM's timesteps is the
    /// ancestral posterior step (fixed_small), and the forward process and target are diffusers'
    /// add_noise and get_velocity.
    func testReducesToDiffusersDDPMAndNoising() throws {
        let file = try SchedulerFixtures.ddpm.get()
        var checked = 0, worst = 0.0
        for c in try SchedulerFixtures.cases(file) where c.config.predictionType == .velocity && !c.config.clipSample {
            var scheduler = try DDPMScheduler(c.config)
            if let n = c.num_inference_steps { try scheduler.setTimesteps(n) }
            let process = try TwoStageResidualProcess(schedule: scheduler.schedule, noiseWeight: 1, lowResolutionWeight: 0)
            for (k, t) in c.steps.enumerated() {
                let noise = try file.tensor("inputs/noise.\(k)")
                let out = process.stochasticStep(velocity: try file.tensor("inputs/model_output.\(k)"), timestep: t,
                                                 previousTimestep: scheduler.previousTimestep(t), sample: try file.tensor("inputs/sample.\(k)"),
                                                 lowResolution: noise, eta: 1, noise: noise)
                // A different formula for the same posterior (DDIM's σ form): rounding apart (5e-7 measured).
                let error = max(worstError(out.previousSample, try file.tensor("\(c.name)/prev.\(k)")),
                                worstError(out.predictedOriginalSample, try file.tensor("\(c.name)/x0.\(k)")))
                XCTAssertLessThan(error, 2e-6, "\(c.name) step \(k) (t = \(t))")
                worst = max(worst, error)
                checked += 1
            }
        }
        XCTAssertEqual(checked, 21)  // 3 SD spacings + all steps + 3 zero-SNR, × 3 steps
        print("two-stage at ξ = (1, 0), η = 1 vs diffusers DDPM: worst error \(worst) over \(checked) steps")

        let tables = try SchedulerFixtures.tables.get()
        let schedules = try SchedulerFixtures.schedules()
        for name in ["scaled_linear", "scaled_linear.zero_snr"] {
            let process = try TwoStageResidualProcess(schedule: try NoiseSchedule(try XCTUnwrap(schedules[name])),
                                                      noiseWeight: 1, lowResolutionWeight: 0)
            let original = try tables.tensor("noising/\(name)/original"), epsilon = try tables.tensor("noising/\(name)/noise")
            let timesteps = integers(try tables.tensor("noising/\(name)/timesteps"))
            let n = process.blendedNoise(noise: epsilon, lowResolution: original)
            XCTAssertEqual(n.scalars, epsilon.scalars)
            XCTAssertLessThan(worstError(process.noisyLatent(clean: original, blendedNoise: n, timesteps: timesteps),
                                         try tables.tensor("noising/\(name)/noisy")), 1e-6)
            XCTAssertLessThan(worstError(process.velocityTarget(clean: original, blendedNoise: n, timesteps: timesteps),
                                         try tables.tensor("noising/\(name)/velocity")), 1e-6)
        }
    }

    /// 2. With the oracle v, x̂_0 = z_0 and n̂ = n at every t, whatever n is.
    func testOracleRecoversCleanLatentAndBlendedNoise() throws {
        var rng = Philox(seed: 4)
        let clean = Tensor.normal([5, 4, 6, 6], rng: &rng), epsilon = Tensor.normal([5, 4, 6, 6], rng: &rng)
        let lowResolution = Tensor.normal([5, 4, 6, 6], rng: &rng) * 1.3 + 0.2
        for configuration in [SchedulerConfiguration.stableDiffusion, Self.zeroSNR()] {
            let schedule = try NoiseSchedule(configuration)
            for (xi1, xi2) in Self.weights {
                let process = try TwoStageResidualProcess(schedule: schedule, noiseWeight: xi1, lowResolutionWeight: xi2)
                let n = process.blendedNoise(noise: epsilon, lowResolution: lowResolution)
                let timesteps = [0, 1, 500, 998, 999]
                let z = process.noisyLatent(clean: clean, blendedNoise: n, timesteps: timesteps)
                let v = process.velocityTarget(clean: clean, blendedNoise: n, timesteps: timesteps)
                let cleanError = worstError(process.predictedClean(velocity: v, sample: z, timesteps: timesteps), clean)
                let noiseError = worstError(process.predictedBlendedNoise(velocity: v, sample: z, timesteps: timesteps), n)
                XCTAssertLessThan(cleanError, 2e-6, "ξ = (\(xi1), \(xi2))")
                XCTAssertLessThan(noiseError, 2e-6, "ξ = (\(xi1), \(xi2))")
                // And n really is the blend (no stand-in for ε).
                for i in stride(from: 0, to: n.count, by: 97) {
                    XCTAssertEqual(n[flat: i], xi1 * epsilon[flat: i] + xi2 * lowResolution[flat: i], accuracy: 1e-6)
                }
            }
        }
    }

    /// 3. With the oracle, every state the deterministic sampler visits is the forward process at
    /// that timestep with the same n, and the end is z_0.
    func testOracleSamplerVisitsTheForwardProcess() throws {
        var rng = Philox(seed: 8)
        let clean = Tensor.normal([2, 4, 8, 8], rng: &rng), epsilon = Tensor.normal([2, 4, 8, 8], rng: &rng)
        let lowResolution = Tensor.normal([2, 4, 8, 8], rng: &rng)
        for (configuration, steps) in [(SchedulerConfiguration.stableDiffusion, 50), (Self.zeroSNR(), 25)] {
            var scheduler = try DDIMScheduler(configuration)
            try scheduler.setTimesteps(steps)
            for (xi1, xi2) in Self.weights {
                let process = try TwoStageResidualProcess(scheduler: scheduler, noiseWeight: xi1, lowResolutionWeight: xi2)
                let n = process.blendedNoise(noise: epsilon, lowResolution: lowResolution)
                var z = process.noisyLatent(clean: clean, blendedNoise: n, timesteps: [scheduler.timesteps[0]])
                var worst = 0.0
                for t in scheduler.timesteps {
                    let previous = scheduler.previousTimestep(t)
                    let v = process.velocityTarget(clean: clean, blendedNoise: n, timesteps: [t])
                    let out = process.step(velocity: v, timestep: t, previousTimestep: previous, sample: z)
                    z = out.previousSample
                    let forward = previous >= 0
                        ? process.noisyLatent(clean: clean, blendedNoise: n, timesteps: [previous])
                        : clean * scheduler.finalAlphaCumprod.squareRoot() + n * (1 - scheduler.finalAlphaCumprod).squareRoot()
                    worst = max(worst, worstError(z, forward))
                }
                XCTAssertLessThan(worst, 1e-5, "\(configuration.timestepSpacing) ξ = (\(xi1), \(xi2))")
                // The packaged loop ends on x̂_0 = z_0.
                var unused = Philox(seed: 0)
                let start = process.noisyLatent(clean: clean, blendedNoise: n, timesteps: [scheduler.timesteps[0]])
                let result = process.sample(from: start, timesteps: scheduler.timesteps, lowResolution: lowResolution, rng: &unused) { _, t in
                    process.velocityTarget(clean: clean, blendedNoise: n, timesteps: [t])
                }
                XCTAssertLessThan(worstError(result, clean), 1e-5)
            }
        }
    }

    /// 4. Monte-Carlo of the stochastic variant with the oracle: at every visited t the state is
    /// √ᾱ·z_0 + ξ2·√(1−ᾱ)·j̄ + residual, the residual zero-mean with standard deviation
    /// ξ1·√(1−ᾱ), uncorrelated with j̄ — and really re-drawn (it decorrelates from the first ε).
    func testStochasticVariantKeepsTheShares() throws {
        let count = 200_000
        var rng = Philox(seed: 13)
        let clean = Tensor.normal([1, count], rng: &rng) * 0.8, epsilon = Tensor.normal([1, count], rng: &rng)
        let lowResolution = Tensor.normal([1, count], rng: &rng)
        var scheduler = try DDIMScheduler(.stableDiffusion)
        try scheduler.setTimesteps(20)
        let (xi1, xi2): (Float, Float) = (0.4, 0.6)
        let process = try TwoStageResidualProcess(scheduler: scheduler, noiseWeight: xi1, lowResolutionWeight: xi2)
        let n = process.blendedNoise(noise: epsilon, lowResolution: lowResolution)
        var z = process.noisyLatent(clean: clean, blendedNoise: n, timesteps: [scheduler.timesteps[0]])
        var lowestCorrelation = 1.0
        for t in scheduler.timesteps {
            let previous = scheduler.previousTimestep(t)
            guard previous >= 0 else { break }
            // The oracle: the exact v of the current state, from z_0.
            let currentNoise = scheduler.schedule.noise(from: clean, as: .sample, sample: z, timesteps: [t])
            let v = scheduler.schedule.velocity(original: clean, noise: currentNoise, timesteps: [t])
            z = process.stochasticStep(velocity: v, timestep: t, previousTimestep: previous, sample: z, lowResolution: lowResolution,
                                       eta: 1, noise: Tensor.normal(z.shape, rng: &rng)).previousSample
            let a = Double(scheduler.schedule.alphasCumprod[previous])
            var rj = 0.0, jj = 0.0
            for i in 0..<count {
                let r = Double(z[flat: i]) - a.squareRoot() * Double(clean[flat: i]), j = Double(lowResolution[flat: i])
                rj += r * j; jj += j * j
            }
            let share = rj / jj
            var mean = 0.0, square = 0.0, withJ = 0.0, withEpsilon = 0.0
            for i in 0..<count {
                let j = Double(lowResolution[flat: i])
                let e = Double(z[flat: i]) - a.squareRoot() * Double(clean[flat: i]) - Double(xi2) * (1 - a).squareRoot() * j
                mean += e; square += e * e; withJ += e * j; withEpsilon += e * Double(epsilon[flat: i])
            }
            let deviation = (square / Double(count)).squareRoot(), expected = Double(xi1) * (1 - a).squareRoot()
            XCTAssertEqual(share, Double(xi2) * (1 - a).squareRoot(), accuracy: 5e-3, "j̄ share at t = \(previous)")
            XCTAssertEqual(deviation, expected, accuracy: 0.01 * expected, "residual at t = \(previous)")
            XCTAssertEqual(mean / Double(count), 0, accuracy: 5 * expected / Double(count).squareRoot(), "t = \(previous)")
            XCTAssertEqual(withJ / Double(count) / expected, 0, accuracy: 0.02, "t = \(previous)")
            lowestCorrelation = min(lowestCorrelation, withEpsilon / Double(count) / expected)
        }
        XCTAssertLessThan(lowestCorrelation, 0.5, "the residual noise was never re-drawn")
    }

    /// 5. Under a zero-terminal-SNR schedule the sampler's start z_T is exactly n.
    func testZeroTerminalSNRStartsAtTheBlendedNoise() throws {
        var rng = Philox(seed: 2)
        let clean = Tensor.normal([2, 4, 5, 5], rng: &rng), epsilon = Tensor.normal([2, 4, 5, 5], rng: &rng)
        let lowResolution = Tensor.normal([2, 4, 5, 5], rng: &rng)
        var scheduler = try DDIMScheduler(Self.zeroSNR())
        try scheduler.setTimesteps(25)
        XCTAssertEqual(scheduler.timesteps[0], 999)
        let process = try TwoStageResidualProcess(scheduler: scheduler)
        let n = process.blendedNoise(noise: epsilon, lowResolution: lowResolution)
        XCTAssertEqual(process.noisyLatent(clean: clean, blendedNoise: n, timesteps: [999]).scalars, n.scalars)
        // Not so for SD's own schedule (ᾱ_999 ≈ 0.0047): the check can tell the difference.
        let plain = try TwoStageResidualProcess(schedule: try NoiseSchedule(.stableDiffusion))
        XCTAssertGreaterThan(worstError(plain.noisyLatent(clean: clean, blendedNoise: n, timesteps: [999]), n), 1e-3)
    }

    func testWeightsAreChecked() throws {
        let schedule = try NoiseSchedule(.stableDiffusion)
        XCTAssertThrowsError(try TwoStageResidualProcess(schedule: schedule, noiseWeight: 0, lowResolutionWeight: 1)) {
            XCTAssertEqual(($0 as? DiffusionConfigurationError)?.key, "xi1")
        }
        XCTAssertThrowsError(try TwoStageResidualProcess(schedule: schedule, noiseWeight: 0.4, lowResolutionWeight: -.infinity)) {
            XCTAssertEqual(($0 as? DiffusionConfigurationError)?.key, "xi2")
        }
    }
}
