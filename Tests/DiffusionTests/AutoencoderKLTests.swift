import Checkpoints
import Diffusion
import Foundation
import Layers
import Tensors
import TestSupport
import XCTest

/// AutoencoderKL against diffusers 0.42.1 itself: fixtures made by
/// scripts/fixtures/make_vae_fixtures.py (a random-initialised model saved with `save_pretrained`,
/// the same weights under the older attention names, and diffusers' outputs and gradients in
/// float64). Errors are measured against the reference's largest magnitude.
final class AutoencoderKLTests: XCTestCase {
    func fixtureURL(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil), "fixture \(name) missing")
    }

    func reference() throws -> [String: Tensor] {
        try SafetensorsFile(contentsOf: try fixtureURL("vae-small-reference.safetensors")).tensors()
    }


    /// Latents, decodings, KL, and the gradients of Σ reconstruction·probe + Σ KL.
    func checkAgainstDiffusers(_ model: AutoencoderKL, _ label: String) throws {
        let r = try reference()
        let store = ParameterStore(model: model)
        store.zeroGradients()
        Tape.shared.reset()
        defer { Tape.shared.reset() }
        let x = r["input"]!.requiringGradient()
        let posterior = try model.encode(x)
        assertRelativelyClose(posterior.mean, r["mean"]!, "\(label) posterior mean")
        assertRelativelyClose(posterior.logVariance, r["logvar"]!, "\(label) posterior log-variance")
        assertRelativelyClose(posterior.kl(), r["kl"]!, "\(label) KL")
        let decoded = try withoutGradients { try model.decode(r["mean"]!) }
        assertRelativelyClose(decoded, r["decoded"]!, "\(label) decode(mean)")
        var noSampling: Philox? = nil
        let (reconstruction, p) = model(x, rng: &noSampling)
        assertRelativelyClose(reconstruction, r["reconstruction"]!, "\(label) forward")
        Tape.shared.backward((reconstruction * r["probe"]!).sum() + p.kl().sum())
        assertRelativelyClose(try XCTUnwrap(Tape.shared.gradient(of: x)), r["grad.input"]!, "\(label) d/d input")
        let parameterGradients = r.keys.filter { $0.hasPrefix("grad.param.") }
        XCTAssertEqual(parameterGradients.count, 7)
        for key in parameterGradients {
            let name = String(key.dropFirst("grad.param.".count))
            assertRelativelyClose(try XCTUnwrap(store.gradient(named: name), name), r[key]!, "\(label) d/d \(name)")
        }
    }

    func testMatchesDiffusersWithCurrentAttentionNames() throws {
        let model = try AutoencoderKL.load(diffusersFolder: try fixtureURL("vae-small"))
        XCTAssertEqual(model.configuration.blockOutChannels, [8, 16, 16])
        XCTAssertEqual(model.configuration.normNumGroups, 4)
        XCTAssertEqual(model.configuration.scalingFactor, 0.5)
        XCTAssertEqual(model.configuration.downsamplingFactor, 4)
        try checkAgainstDiffusers(model, "current names")
    }

    func testMatchesDiffusersWithLegacyAttentionNames() throws {
        let folder = try fixtureURL("vae-small-legacy")
        let names = try SafetensorsFile(contentsOf: folder.appendingPathComponent(AutoencoderKL.weightsFileName)).names
        XCTAssertTrue(names.contains("encoder.mid_block.attentions.0.proj_attn.weight"), "fixture is not legacy-named")
        try checkAgainstDiffusers(try AutoencoderKL.load(diffusersFolder: folder), "legacy names")
    }

    /// Original-LDM checkpoints store the attention projections as 1×1 convolutions (`q`, `k`,
    /// `v`, `proj_out`, `norm`).
    func testAcceptsOneByOneConvolutionAttentionWeights() throws {
        let folder = try fixtureURL("vae-small")
        let reference = try AutoencoderKL.load(diffusersFolder: folder)
        var weights: [String: Tensor] = [:]
        let ldmNames = ["to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out", "group_norm": "norm"]
        for (key, value) in reference.weights() {
            var renamed = key, tensor = value
            for (new, old) in ldmNames where key.contains(".attentions.0.\(new).") {
                renamed = key.replacingOccurrences(of: ".attentions.0.\(new).", with: ".attentions.0.\(old).")
                if value.rank == 2 { tensor = value.reshaped(value.shape + [1, 1]) }
            }
            weights[renamed] = tensor
        }
        XCTAssertNotNil(weights["decoder.mid_block.attentions.0.proj_out.weight"])
        XCTAssertEqual(weights["decoder.mid_block.attentions.0.q.weight"]?.shape, [16, 16, 1, 1])
        let model = try AutoencoderKL.make(reference.configuration, weights: weights, file: "ldm-named")
        try checkAgainstDiffusers(model, "1×1-convolution names")
    }

    func testSavedFolderLoadsBackIdentically() throws {
        let model = try AutoencoderKL.load(diffusersFolder: try fixtureURL("vae-small"))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vae-roundtrip-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try model.saveDiffusers(to: folder)
        let again = try AutoencoderKL.load(diffusersFolder: folder)
        XCTAssertEqual(again.configuration, model.configuration)
        let (a, b) = (model.weights(), again.weights())
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (k, v) in a { XCTAssertEqual(b[k]!.scalars, v.scalars, k) }
        // diffusers' own config.json fields and markers are written.
        let json = try String(contentsOf: folder.appendingPathComponent("config.json"), encoding: .utf8)
        for field in ["\"_class_name\" : \"AutoencoderKL\"", "\"block_out_channels\"", "\"shift_factor\" : null", "\"mid_block_add_attention\" : true"] {
            XCTAssertTrue(json.contains(field), "config.json lacks \(field):\n\(json)")
        }
    }

    func testConfigurationDefaultsForMissingFields() throws {
        // An early diffusers config: no mid_block_add_attention, use_quant_conv, shift_factor, latents_mean/std.
        let c = try AutoencoderKLConfiguration.fromJSON(Data(#"{"_class_name": "AutoencoderKL", "block_out_channels": [128], "sample_size": [64, 64]}"#.utf8),
                                                        source: "x.json")
        XCTAssertEqual(c.blockOutChannels, [128])
        XCTAssertEqual(c.layersPerBlock, 1)
        XCTAssertEqual(c.latentChannels, 4)
        XCTAssertEqual(c.sampleSize, 64)
        XCTAssertEqual(c.scalingFactor, 0.18215)
        XCTAssertNil(c.shiftFactor)
        XCTAssertTrue(c.midBlockAddAttention && c.useQuantConv && c.usePostQuantConv)
        // down/up_block_types default to one block: two widths need two.
        XCTAssertThrowsError(try AutoencoderKLConfiguration.fromJSON(Data(#"{"block_out_channels": [32, 64]}"#.utf8), source: "x.json")) {
            XCTAssertTrue("\($0)".contains("down_block_types has 1 blocks but block_out_channels has 2"), "\($0)")
        }
    }

    func testImpossibleConfigurationsNameTheKey() throws {
        func expectError(_ json: String, naming key: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try AutoencoderKLConfiguration.fromJSON(Data(json.utf8), source: "bad/config.json"), file: file, line: line) { error in
                XCTAssertTrue("\(error)".contains(key), "\(error)", file: file, line: line)
                XCTAssertTrue("\(error)".contains("bad/config.json"), "\(error)", file: file, line: line)
            }
        }
        expectError(#"{"block_out_channels": [30], "norm_num_groups": 32}"#, naming: "norm_num_groups")
        expectError(#"{"latent_channels": 0}"#, naming: "latent_channels")
        expectError(#"{"layers_per_block": 0}"#, naming: "layers_per_block")
        expectError(#"{"block_out_channels": []}"#, naming: "block_out_channels")
        expectError(#"{"act_fn": "relu"}"#, naming: "act_fn")
        expectError(#"{"down_block_types": ["DownBlock2D"]}"#, naming: "down_block_types")
        expectError(#"{"_class_name": "UNet2DConditionModel"}"#, naming: "_class_name")
        expectError(#"{"latent_channels": "four"}"#, naming: "latent_channels")
    }

    func testBadCheckpointsNameTheFile() throws {
        let source = try fixtureURL("vae-small")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vae-bad-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let weights = folder.appendingPathComponent(AutoencoderKL.weightsFileName)
        let config = folder.appendingPathComponent(AutoencoderKL.configFileName)
        try FileManager.default.copyItem(at: source.appendingPathComponent(AutoencoderKL.configFileName), to: config)

        // Truncated weights.
        let bytes = try Data(contentsOf: source.appendingPathComponent(AutoencoderKL.weightsFileName))
        try bytes.prefix(bytes.count / 2).write(to: weights)
        XCTAssertThrowsError(try AutoencoderKL.load(diffusersFolder: folder)) { error in
            XCTAssertTrue("\(error)".contains(weights.path), "\(error)")
        }

        // Weights of another configuration: wider blocks than config.json says.
        try bytes.write(to: weights)
        var json = try String(contentsOf: config, encoding: .utf8)
        json = json.replacingOccurrences(of: "\"latent_channels\": 4", with: "\"latent_channels\": 8")
        try json.write(to: config, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try AutoencoderKL.load(diffusersFolder: folder)) { error in
            XCTAssertTrue("\(error)".contains(weights.path), "\(error)")
            XCTAssertTrue("\(error)".contains("decoder.conv_in.weight"), "\(error)")
        }

        // Missing weights file; missing config.
        try FileManager.default.removeItem(at: weights)
        XCTAssertThrowsError(try AutoencoderKL.load(diffusersFolder: folder)) { XCTAssertTrue("\($0)".contains(weights.path), "\($0)") }
        try FileManager.default.removeItem(at: config)
        XCTAssertThrowsError(try AutoencoderKL.load(diffusersFolder: folder)) { XCTAssertTrue("\($0)".contains(config.path), "\($0)") }
    }

    func testWrongShapedInputsAreRefused() throws {
        let model = try AutoencoderKL.load(diffusersFolder: try fixtureURL("vae-small"))
        try withoutGradients {
            XCTAssertThrowsError(try model.decode(Tensor(zeros: [1, 3, 8, 8]))) { error in
                XCTAssertTrue("\(error)".contains("latents of shape [1, 3, 8, 8]"), "\(error)")
                XCTAssertTrue("\(error)".contains("[batch, 4, h, w]"), "\(error)")
            }
            XCTAssertThrowsError(try model.decode(Tensor(zeros: [4, 8, 8]))) { XCTAssertTrue("\($0)".contains("latents"), "\($0)") }
            XCTAssertThrowsError(try model.encode(Tensor(zeros: [1, 3, 30, 32]))) { XCTAssertTrue("\($0)".contains("multiples of 4"), "\($0)") }
            XCTAssertThrowsError(try model.encode(Tensor(zeros: [1, 4, 32, 32]))) { XCTAssertTrue("\($0)".contains("images"), "\($0)") }
            XCTAssertEqual(try model.decode(Tensor(zeros: [1, 4, 5, 3])).shape, [1, 3, 20, 12])
        }
    }

    /// Any number of blocks and layers: the latent is 2^(blocks − 1) times smaller, and decoding
    /// restores the input size.
    func testShapesForOtherConfigurations() throws {
        for (widths, layers, latents) in [([8], 1, 2), ([8, 8], 2, 3), ([8, 16, 16, 16], 1, 4)] {
            var c = AutoencoderKLConfiguration()
            c.blockOutChannels = widths
            c.downBlockTypes = Array(repeating: "DownEncoderBlock2D", count: widths.count)
            c.upBlockTypes = Array(repeating: "UpDecoderBlock2D", count: widths.count)
            c.layersPerBlock = layers
            c.latentChannels = latents
            c.normNumGroups = 4
            let model = try AutoencoderKL(c)
            _ = ParameterStore(model: model, seed: 1)
            let f = 1 << (widths.count - 1)
            let posterior = try withoutGradients { try model.encode(Tensor(zeros: [2, 3, 8 * f, 16])) }
            XCTAssertEqual(posterior.mean.shape, [2, latents, 8, 16 / f])
            XCTAssertEqual(try withoutGradients { try model.decode(posterior.mean) }.shape, [2, 3, 8 * f, 16])
            let decoderResnets = model.allParameters().filter { $0.name.hasPrefix("decoder.up_blocks.0.resnets.") && $0.name.hasSuffix("conv1.weight") }
            XCTAssertEqual(decoderResnets.count, layers + 1)
        }
    }

    /// The posterior: log-variance clamped to [−30, 20]; samples have the posterior's mean and
    /// standard deviation; KL against the closed form; gradients of sample and KL by finite differences.
    func testDiagonalGaussian() throws {
        var rng = Philox(seed: 5)
        var moments = Tensor.uniform([1, 4, 2, 2], low: -2, high: 2, rng: &rng)
        moments.withUnsafeMutableBufferPointer { $0[8] = 40; $0[9] = -50 }
        let p = DiagonalGaussian(moments: moments)
        XCTAssertEqual(p.logVariance[flat: 0], 20)
        XCTAssertEqual(p.logVariance[flat: 1], -30)
        var expectedKL = 0.0
        for i in 0..<8 {
            let (m, lv) = (Double(moments[flat: i]), Double(p.logVariance[flat: i]))
            expectedKL += 0.5 * (m * m + exp(lv) - 1 - lv)
        }
        XCTAssertEqual(Double(p.kl()[flat: 0]), expectedKL, accuracy: 1e-3 * expectedKL)

        var flatMoments = Tensor(zeros: [1, 2, 64, 64])
        flatMoments.withUnsafeMutableBufferPointer { b in
            for i in 0..<4096 { b[i] = 0.5; b[4096 + i] = log(0.25) }  // mean 0.5, std 0.5
        }
        let draws = DiagonalGaussian(moments: flatMoments).sample(rng: &rng)
        let mean = draws.scalars.reduce(0, +) / Float(draws.count)
        let std = (draws.scalars.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(draws.count)).squareRoot()
        XCTAssertEqual(mean, 0.5, accuracy: 0.03)
        XCTAssertEqual(std, 0.5, accuracy: 0.03)

        let small = Tensor.uniform([1, 4, 2, 2], low: -1, high: 1, rng: &rng)
        let noiseSeed = Philox(seed: 9)
        let worst = maxGradientError(inputs: [small]) { m in
            var r = noiseSeed
            let q = DiagonalGaussian(moments: m[0])
            return q.sample(rng: &r).sum() + q.kl().sum()
        }
        XCTAssertLessThan(worst, 1e-2)
    }
}
