import Diffusion
import Foundation
import XCTest

final class SchedulerConfigurationTests: XCTestCase {
    func decode(_ json: String) throws -> SchedulerConfiguration {
        try JSONDecoder().decode(SchedulerConfiguration.self, from: Data(json.utf8))
    }

    /// Stable Diffusion 2.1's scheduler_config.json as diffusers writes it.
    func testReadsADiffusersConfig() throws {
        let config = try decode("""
        {"_class_name": "DDIMScheduler", "_diffusers_version": "0.8.0", "beta_end": 0.012,
         "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": false, "num_train_timesteps": 1000,
         "prediction_type": "v_prediction", "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1,
         "trained_betas": null}
        """)
        XCTAssertEqual(config, .stableDiffusion)
        // Keys missing from that older config took diffusers' defaults.
        XCTAssertEqual(config.timestepSpacing, .leading)
        XCTAssertEqual(config.varianceType, .fixedSmall)
        XCTAssertFalse(config.rescaleBetasZeroSNR)
        XCTAssertEqual(try decode("{}"), SchedulerConfiguration())
        XCTAssertEqual(SchedulerConfiguration().numTrainTimesteps, 1000)
    }

    func testRoundTripsThroughJSONWithDiffusersKeys() throws {
        var config = SchedulerConfiguration.stableDiffusion
        config.rescaleBetasZeroSNR = true
        config.timestepSpacing = .trailing
        config.varianceType = .fixedLarge
        let data = try JSONEncoder().encode(config)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(object["prediction_type"] as? String, "v_prediction")
        XCTAssertEqual(object["rescale_betas_zero_snr"] as? Bool, true)
        XCTAssertEqual(object["timestep_spacing"] as? String, "trailing")
        XCTAssertEqual(object["beta_schedule"] as? String, "scaled_linear")
        XCTAssertEqual(try JSONDecoder().decode(SchedulerConfiguration.self, from: data), config)
    }

    func testBadValuesNameTheirKey() throws {
        let bad: [(String, String)] = [
            (#"{"beta_schedule": "cosine"}"#, "beta_schedule"),
            (#"{"prediction_type": "v"}"#, "prediction_type"),
            (#"{"timestep_spacing": "uniform"}"#, "timestep_spacing"),
            (#"{"variance_type": "learned_range"}"#, "variance_type"),
            (#"{"num_train_timesteps": "1000"}"#, "num_train_timesteps"),
            (#"{"num_train_timesteps": 1}"#, "num_train_timesteps"),
            (#"{"beta_start": 0}"#, "beta_start"),
            (#"{"beta_start": 0.1, "beta_end": 0.01}"#, "beta_end"),
            (#"{"beta_end": 1.5}"#, "beta_end"),
            (#"{"steps_offset": -1}"#, "steps_offset"),
            (#"{"clip_sample_range": 0}"#, "clip_sample_range"),
            (#"{"clip_sample": "yes"}"#, "clip_sample"),
            (#"{"thresholding": true}"#, "thresholding"),
            (#"{"num_train_timesteps": 3, "trained_betas": [0.1, 0.2]}"#, "trained_betas"),
            (#"{"num_train_timesteps": 2, "trained_betas": [0.1, 2]}"#, "trained_betas"),
        ]
        for (json, key) in bad {
            XCTAssertThrowsError(try decode(json), json) { error in
                XCTAssertEqual((error as? DiffusionConfigurationError)?.key, key, "\(json): \(error)")
            }
        }
        // The cosine schedule ignores beta_start/beta_end, so they are not checked for it.
        XCTAssertNoThrow(try decode(#"{"beta_schedule": "squaredcos_cap_v2", "beta_start": 0}"#))
    }

    func testReadsAFileAndNamesItInErrors() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("relief-scheduler-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = folder.appendingPathComponent("scheduler_config.json"), bad = folder.appendingPathComponent("bad.json")
        try Data(#"{"prediction_type": "sample", "steps_offset": 1}"#.utf8).write(to: good)
        try Data(#"{"prediction_type": "x0"}"#.utf8).write(to: bad)
        let config = try SchedulerConfiguration(contentsOf: good)
        XCTAssertEqual(config.predictionType, .sample)
        XCTAssertEqual(config.stepsOffset, 1)
        XCTAssertThrowsError(try SchedulerConfiguration(contentsOf: bad)) { error in
            XCTAssertTrue("\(error)".contains("prediction_type") && "\(error)".contains(bad.path), "\(error)")
        }
        XCTAssertThrowsError(try SchedulerConfiguration(contentsOf: folder.appendingPathComponent("missing.json"))) { error in
            XCTAssertTrue("\(error)".contains("missing.json"), "\(error)")
        }
    }

    func testImpossibleInferenceStepsNameTheirKey() throws {
        var ddim = try DDIMScheduler(.stableDiffusion)
        XCTAssertThrowsError(try ddim.setTimesteps(0)) { XCTAssertEqual(($0 as? DiffusionConfigurationError)?.key, "num_inference_steps") }
        XCTAssertThrowsError(try ddim.setTimesteps(1001)) { XCTAssertEqual(($0 as? DiffusionConfigurationError)?.key, "num_inference_steps") }
        // 1000 leading steps + offset 1 would start at timestep 1000 (diffusers indexes past its table).
        XCTAssertThrowsError(try ddim.setTimesteps(1000)) { XCTAssertEqual(($0 as? DiffusionConfigurationError)?.key, "steps_offset") }
        var ddpm = try DDPMScheduler(.stableDiffusion)
        XCTAssertThrowsError(try ddpm.setTimesteps(1000)) { XCTAssertEqual(($0 as? DiffusionConfigurationError)?.key, "steps_offset") }
        XCTAssertNoThrow(try ddpm.setTimesteps(999))
    }
}
