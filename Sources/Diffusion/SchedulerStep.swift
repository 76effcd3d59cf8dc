import Tensors

/// What one sampler step returns, as diffusers' `SchedulerOutput`: the sample at the previous
/// (less noisy) timestep and the x̂₀ the step predicted on the way.
public struct SchedulerStepOutput {
    public let previousSample: Tensor
    public let predictedOriginalSample: Tensor
}

/// A sampler over a `NoiseSchedule` (DDPM, DDIM): diffusers' `add_noise` and `get_velocity`
/// come with it.
public protocol NoiseScheduler {
    var schedule: NoiseSchedule { get }
}

extension NoiseScheduler {
    public func addNoise(to original: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        schedule.addNoise(to: original, noise: noise, timesteps: timesteps)
    }

    public func velocity(original: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        schedule.velocity(original: original, noise: noise, timesteps: timesteps)
    }
}

/// The timesteps of a sampler with `inferenceSteps` steps, checked the way diffusers'
/// `set_timesteps` is, plus the range check it lacks (`leading` + `steps_offset` can run past
/// the last training step).
func inferenceTimesteps(_ inferenceSteps: Int, configuration c: SchedulerConfiguration) throws -> [Int] {
    guard inferenceSteps >= 1, inferenceSteps <= c.numTrainTimesteps else {
        throw DiffusionConfigurationError(key: "num_inference_steps",
            message: "is \(inferenceSteps); needs 1 ... num_train_timesteps (\(c.numTrainTimesteps))")
    }
    let timesteps = c.timestepSpacing.timesteps(inferenceSteps: inferenceSteps, trainTimesteps: c.numTrainTimesteps,
                                                stepsOffset: c.stepsOffset)
    if let first = timesteps.first, first >= c.numTrainTimesteps {
        throw DiffusionConfigurationError(key: "steps_offset",
            message: "is \(c.stepsOffset): with \(inferenceSteps) leading steps the first timestep would be \(first), past the last training step \(c.numTrainTimesteps - 1)")
    }
    return timesteps
}

extension SchedulerConfiguration {
    /// x̂₀ clamped to ±`clip_sample_range` when `clip_sample` is on.
    func clipped(_ original: Tensor) -> Tensor {
        guard clipSample else { return original }
        let range = Float(clipSampleRange)
        return clamp(original, min: -range, max: range)
    }
}
