import Checkpoints
import Diffusion
import Tensors
import XCTest

/// DDIM and DDPM steps against diffusers' own, every scheduler × prediction type × spacing
/// (× η, × variance type, × zero-terminal SNR), with the noise diffusers used.
final class SamplerTests: XCTestCase {
    func testDDIMStepsMatchDiffusers() throws {
        let file = try SchedulerFixtures.ddim.get()
        XCTAssertEqual(try checkSteps("DDIM", file) { c in
            var scheduler = try DDIMScheduler(c.config)
            try scheduler.setTimesteps(try XCTUnwrap(c.num_inference_steps))
            XCTAssertEqual([0, 5, 9].map { scheduler.timesteps[$0] }, c.steps, c.name)
            let eta = try XCTUnwrap(c.eta)
            return (scheduler.schedule, { t, output, sample, noise in
                scheduler.step(modelOutput: output, timestep: t, sample: sample, eta: eta,
                               useClippedModelOutput: c.use_clipped_model_output, varianceNoise: noise)
            })
        }, 51)
    }

    func testDDPMStepsMatchDiffusers() throws {
        let file = try SchedulerFixtures.ddpm.get()
        XCTAssertEqual(try checkSteps("DDPM", file) { c in
            var scheduler = try DDPMScheduler(c.config)
            if let n = c.num_inference_steps { try scheduler.setTimesteps(n) }
            return (scheduler.schedule, { t, output, sample, noise in
                scheduler.step(modelOutput: output, timestep: t, sample: sample, noise: noise)
            })
        }, 24)
    }

    /// Runs every case's steps through the scheduler `make` builds (its schedule, and a step
    /// (t, model output, sample, noise) → output) against diffusers' outputs; returns the case count.
    func checkSteps(_ label: String, _ file: SafetensorsFile,
                    make: (SchedulerFixtures.Case) throws -> (NoiseSchedule, (Int, Tensor, Tensor, Tensor) -> SchedulerStepOutput)) throws -> Int {
        let cases = try SchedulerFixtures.cases(file)
        var worst = 0.0, worstPlain = 0.0  // the latter over steps with the plain 1e-6 budget
        for c in cases {
            let (schedule, step) = try make(c)
            for (k, t) in c.steps.enumerated() {
                let out = step(t, try file.tensor("inputs/model_output.\(k)"), try file.tensor("inputs/sample.\(k)"),
                               try file.tensor("inputs/noise.\(k)"))
                let prev = worstError(out.previousSample, try file.tensor("\(c.name)/prev.\(k)"))
                let x0 = worstError(out.predictedOriginalSample, try file.tensor("\(c.name)/x0.\(k)"))
                let budget = stepBudget(c, schedule: schedule, timestep: t)
                XCTAssertLessThan(prev, budget.previous, "\(c.name) step \(k) (t = \(t)) previous sample")
                XCTAssertLessThan(x0, budget.original, "\(c.name) step \(k) (t = \(t)) x̂₀")
                worst = max(worst, prev / budget.previous, x0 / budget.original)
                if budget == (1e-6, 1e-6) { worstPlain = max(worstPlain, prev, x0) }
            }
        }
        print("\(label): worst error / budget \(worst) over \(cases.count) cases × 3 steps; worst error at the plain budget \(worstPlain)")
        return cases.count
    }

    /// The noise really enters: the same DDPM step with other noise, or DDIM with another η,
    /// lands elsewhere; drawing from Philox is reproducible.
    func testStochasticStepsUseTheirNoise() throws {
        let file = try SchedulerFixtures.ddim.get()
        let output = try file.tensor("inputs/model_output.0"), sample = try file.tensor("inputs/sample.0")
        var ddim = try DDIMScheduler(.stableDiffusion)
        try ddim.setTimesteps(50)
        var a = Philox(seed: 1), b = Philox(seed: 1), c = Philox(seed: 2)
        let first = ddim.step(modelOutput: output, timestep: 981, sample: sample, eta: 1, rng: &a).previousSample
        XCTAssertEqual(first.scalars, ddim.step(modelOutput: output, timestep: 981, sample: sample, eta: 1, rng: &b).previousSample.scalars)
        XCTAssertNotEqual(first.scalars, ddim.step(modelOutput: output, timestep: 981, sample: sample, eta: 1, rng: &c).previousSample.scalars)
        let deterministic = ddim.step(modelOutput: output, timestep: 981, sample: sample, eta: 0, rng: &c).previousSample
        XCTAssertEqual(deterministic.scalars, ddim.step(modelOutput: output, timestep: 981, sample: sample).previousSample.scalars)

        var ddpm = try DDPMScheduler(.stableDiffusion)
        try ddpm.setTimesteps(10)
        var d = Philox(seed: 3)
        let noisy = ddpm.step(modelOutput: output, timestep: 901, sample: sample, rng: &d).previousSample
        XCTAssertNotEqual(noisy.scalars, ddpm.step(modelOutput: output, timestep: 901, sample: sample, rng: &d).previousSample.scalars)
        let last = ddpm.step(modelOutput: output, timestep: 1, sample: sample, rng: &d).previousSample
        XCTAssertNotEqual(last.scalars, ddpm.step(modelOutput: output, timestep: 1, sample: sample, rng: &d).previousSample.scalars)
        var noOffset = SchedulerConfiguration.stableDiffusion
        noOffset.stepsOffset = 0
        var zeroEnd = try DDPMScheduler(noOffset)
        try zeroEnd.setTimesteps(10)
        XCTAssertEqual(zeroEnd.timesteps.last, 0)
        let final = zeroEnd.step(modelOutput: output, timestep: 0, sample: sample, rng: &d)
        XCTAssertEqual(final.previousSample.scalars, zeroEnd.step(modelOutput: output, timestep: 0, sample: sample, noise: nil).previousSample.scalars)
    }
}
