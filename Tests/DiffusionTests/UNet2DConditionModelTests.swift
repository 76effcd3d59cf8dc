import Checkpoints
import Diffusion
import Foundation
import Layers
import Tensors
import TestSupport
import XCTest

/// UNet2DConditionModel against diffusers 0.42.1 itself: fixtures made by
/// scripts/fixtures/make_unet_fixtures.py (random-initialised models saved with `save_pretrained`;
/// outputs and gradients in float64 with every `attn1` set to the multi-view processor of
/// scripts/fixtures/multiview_attention.py). Errors are measured against the reference's largest
/// magnitude.
final class UNet2DConditionModelTests: XCTestCase {
    func fixtureURL(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil), "fixture \(name) missing")
    }

    func reference(_ name: String) throws -> [String: Tensor] {
        try SafetensorsFile(contentsOf: try fixtureURL(name)).tensors()
    }

    /// Output and the gradients of Σ output·probe for inputs, and for the weights the fixture lists.
    func checkAgainstDiffusers(_ model: UNet2DConditionModel, _ r: [String: Tensor], views: Int, mode: MultiViewAttention,
                               label: String) throws {
        let store = ParameterStore(model: model)
        store.zeroGradients()
        Tape.shared.reset()
        defer { Tape.shared.reset() }
        let sample = r["sample"]!.requiringGradient()
        let states = r["encoder_hidden_states"]!.requiringGradient()
        let labels = r["class_labels"]?.requiringGradient()
        let out = model(sample, timesteps: r["timesteps"]!.scalars, encoderHiddenStates: states, classLabels: labels,
                        views: views, multiView: mode)
        let m = mode.rawValue
        assertRelativelyClose(out, r["\(m).output"]!, "\(label) \(m) output")
        // The other modes' references are far off (about 2e-2 here, against 4e-7 for the right
        // one), so a mode mixed up with another cannot pass.
        for other in MultiViewAttention.allCases where other != mode {
            guard let theirs = r["\(other.rawValue).output"] else { continue }
            let (error, magnitude) = largestError(out, theirs)
            XCTAssertGreaterThan(error / magnitude, 1e-3, "\(label): \(m) output is indistinguishable from \(other.rawValue)'s")
        }
        Tape.shared.backward((out * r["probe"]!).sum())
        assertRelativelyClose(try XCTUnwrap(Tape.shared.gradient(of: sample)), r["\(m).grad.sample"]!, "\(label) \(m) d/d sample")
        assertRelativelyClose(try XCTUnwrap(Tape.shared.gradient(of: states)), r["\(m).grad.encoder_hidden_states"]!,
                              "\(label) \(m) d/d encoder hidden states")
        if let labels {
            assertRelativelyClose(try XCTUnwrap(Tape.shared.gradient(of: labels)), r["\(m).grad.class_labels"]!,
                                  "\(label) \(m) d/d class labels")
        }
        let prefix = "\(m).grad.param."
        let parameterGradients = r.keys.filter { $0.hasPrefix(prefix) }
        XCTAssertFalse(parameterGradients.isEmpty)
        for key in parameterGradients {
            let name = String(key.dropFirst(prefix.count))
            assertRelativelyClose(try XCTUnwrap(store.gradient(named: name), name), r[key]!, "\(label) \(m) d/d \(name)")
        }
    }

    func testMatchesDiffusersInEveryMultiViewMode() throws {
        let model = try UNet2DConditionModel.load(folder: try fixtureURL("unet-small"))
        let r = try reference("unet-small-reference.safetensors")
        XCTAssertEqual(r["sample"]!.shape, [6, 8, 8, 8])
        for mode in MultiViewAttention.allCases {
            try checkAgainstDiffusers(model, r, views: 3, mode: mode, label: "unet-small")
        }
        XCTAssertEqual(r.keys.filter { $0.hasSuffix(".grad.param.conv_out.weight") }.count, 3)
    }

    /// Three levels, two ResNets and two transformer layers per block, per-block head counts,
    /// 1×1-convolution projections, flipped sinusoid off, frequency shift 1, a set time-embedding
    /// width, no class embedding.
    func testMatchesDiffusersForTheOtherConfigurationPaths() throws {
        let model = try UNet2DConditionModel.load(folder: try fixtureURL("unet-variant"))
        let c = model.configuration
        XCTAssertEqual(c.attentionHeadDim, [2, 4, 4])
        XCTAssertFalse(c.useLinearProjection || c.flipSinToCos || c.hasClassEmbedding)
        XCTAssertEqual(c.transformerLayersPerBlock, 2)
        XCTAssertEqual(c.timeEmbeddingWidth, 24)
        XCTAssertEqual(model.upBlocks[2].attentions[1].transformerBlocks.count, 2)
        XCTAssertEqual(model.downBlocks[1].attentions[0].transformerBlocks[0].attn1.heads, 4)
        try checkAgainstDiffusers(model, try reference("unet-variant-reference.safetensors"), views: 3, mode: .sparse, label: "unet-variant")
    }

    func testDiffusersConfigurationReadsAndRoundTrips() throws {
        let data = try Data(contentsOf: try fixtureURL("unet-small").appendingPathComponent("config.json"))
        let c = try UNet2DConditionConfiguration(json: data, source: "unet-small/config.json")
        XCTAssertEqual(c.blockOutChannels, [16, 16])
        XCTAssertEqual(c.downBlockTypes, ["CrossAttnDownBlock2D", "DownBlock2D"])
        XCTAssertEqual(c.upBlockTypes, ["UpBlock2D", "CrossAttnUpBlock2D"])
        XCTAssertEqual(c.midBlockType, "UNetMidBlock2DCrossAttn")
        XCTAssertEqual(c.attentionHeadDim, [2])
        XCTAssertEqual(c.classEmbedType, "projection")
        XCTAssertEqual(c.projectionClassEmbeddingsInputDim, 16)
        XCTAssertEqual(c.crossAttentionDim, 12)
        XCTAssertEqual(c.normEps, 1e-5)
        XCTAssertEqual(c.sampleSize, 8)
        XCTAssertTrue(c.useLinearProjection && c.flipSinToCos)
        XCTAssertEqual(c.downsamplingFactor, 2)

        let again = try UNet2DConditionConfiguration(json: Data(c.json().utf8), source: "round trip")
        XCTAssertEqual(again, c)
        var variant = c
        variant.attentionHeadDim = [2, 4]
        variant.midBlockType = nil
        variant.sampleSize = nil
        variant.timeEmbeddingDim = 32
        let json = variant.json()
        XCTAssertEqual(try UNet2DConditionConfiguration(json: Data(json.utf8), source: "round trip"), variant)
        for field in ["\"_class_name\" : \"UNet2DConditionModel\"", "\"attention_head_dim\" : [", "\"mid_block_type\" : null",
                      "\"time_embedding_dim\" : 32", "\"class_embed_type\" : \"projection\""] {
            XCTAssertTrue(json.contains(field), "config.json lacks \(field):\n\(json)")
        }
        XCTAssertTrue(c.json().contains("\"attention_head_dim\" : 2,"), "one head count for every block is written as an int")
    }

    func testConfigurationDefaultsAreDiffusers() throws {
        let c = try UNet2DConditionConfiguration(json: Data(#"{"_class_name": "UNet2DConditionModel", "sample_size": [32, 32]}"#.utf8),
                                                 source: "x.json")
        XCTAssertEqual(c.blockOutChannels, [320, 640, 1280, 1280])
        XCTAssertEqual(c.layersPerBlock, 2)
        XCTAssertEqual(c.crossAttentionDim, 1280)
        XCTAssertEqual(c.attentionHeadDim, [8])
        XCTAssertEqual(c.sampleSize, 32)
        XCTAssertTrue(c.flipSinToCos)
        XCTAssertEqual(c.freqShift, 0)
        XCTAssertEqual(c.timeEmbeddingWidth, 1280)
        XCTAssertNil(c.classEmbedType)
        var defaults = UNet2DConditionConfiguration()
        defaults.sampleSize = 32
        XCTAssertEqual(c, defaults, "a config.json without other fields is diffusers' default UNet")
    }

    func testImpossibleConfigurationsNameTheKey() throws {
        func expectError(_ json: String, naming fragments: String..., file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try UNet2DConditionConfiguration(json: Data(json.utf8), source: "bad/config.json"), file: file, line: line) { error in
                for fragment in fragments + ["bad/config.json"] {
                    XCTAssertTrue("\(error)".contains(fragment), "\(error) lacks \(fragment)", file: file, line: line)
                }
            }
        }
        let twoBlocks = #""block_out_channels": [32, 64], "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"]"#
        expectError("{\(twoBlocks), \"norm_num_groups\": 24}", naming: "norm_num_groups is 24, which does not divide block width 32")
        expectError("{\(twoBlocks), \"attention_head_dim\": 3}", naming: "attention_head_dim", "3 heads")
        expectError("{\(twoBlocks), \"attention_head_dim\": [1, 2, 4]}", naming: "attention_head_dim has 3 values for 2 blocks")
        expectError(#"{"block_out_channels": [32, 64]}"#, naming: "down_block_types has 4 blocks but block_out_channels has 2")
        expectError("{\(twoBlocks), \"mid_block_type\": \"UNetMidBlock2DSimpleCrossAttn\"}", naming: "mid_block_type")
        expectError(#"{"down_block_types": ["AttnDownBlock2D", "DownBlock2D", "DownBlock2D", "DownBlock2D"]}"#, naming: "down_block_types", "AttnDownBlock2D")
        expectError("{\(twoBlocks), \"class_embed_type\": \"projection\"}", naming: "projection_class_embeddings_input_dim")
        expectError("{\(twoBlocks), \"class_embed_type\": \"timestep\"}", naming: "class_embed_type is 'timestep'")
        expectError("{\(twoBlocks), \"addition_embed_type\": \"text_time\"}", naming: "addition_embed_type is 'text_time'")
        expectError("{\(twoBlocks), \"center_input_sample\": true}", naming: "center_input_sample is true")
        expectError("{\(twoBlocks), \"resnet_time_scale_shift\": \"scale_shift\"}", naming: "resnet_time_scale_shift")
        expectError("{\(twoBlocks), \"dropout\": 0.1}", naming: "dropout is 0.1")
        expectError("{\(twoBlocks), \"norm_num_groups\": null}", naming: "norm_num_groups is null")
        expectError("{\(twoBlocks), \"layers_per_block\": [1, 2]}", naming: "layers_per_block")
        expectError("{\(twoBlocks), \"in_channels\": \"four\"}", naming: "in_channels")
        expectError(#"{"_class_name": "AutoencoderKL"}"#, naming: "_class_name")
        // Per-block lists whose every entry is the "off" value are diffusers' spelling of off.
        XCTAssertNoThrow(try UNet2DConditionConfiguration(json: Data("{\(twoBlocks), \"only_cross_attention\": [false, false]}".utf8), source: "x"))
    }

    /// Without cross-attention blocks (and without a mid block) no encoder states are needed.
    func testConfigurationWithoutCrossAttention() throws {
        var c = UNet2DConditionConfiguration()
        c.blockOutChannels = [8, 16]
        c.downBlockTypes = ["DownBlock2D", "DownBlock2D"]
        c.upBlockTypes = ["UpBlock2D", "UpBlock2D"]
        c.midBlockType = nil
        c.normNumGroups = 4
        c.layersPerBlock = 1
        XCTAssertFalse(c.hasCrossAttention)
        let model = UNet2DConditionModel(configuration: c)
        _ = ParameterStore(model: model, seed: 3)
        XCTAssertFalse(model.allParameters().contains { $0.name.contains("attentions") || $0.name.hasPrefix("mid_block") })
        var rng = Philox(seed: 4)
        let sample = Tensor.normal([4, 4, 8, 12], rng: &rng)
        let out = withoutGradients {
            model(sample, timesteps: [1, 1, 500, 500], encoderHiddenStates: nil, classLabels: nil, views: 2, multiView: .dense)
        }
        XCTAssertEqual(out.shape, [4, 4, 8, 12])
        XCTAssertTrue(out.scalars.allSatisfy(\.isFinite))
    }

    func testSavedFolderLoadsBackIdentically() throws {
        let model = try UNet2DConditionModel.load(folder: try fixtureURL("unet-small"))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("unet-roundtrip-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try model.save(folder: folder)
        let again = try UNet2DConditionModel.load(folder: folder)
        XCTAssertEqual(again.configuration, model.configuration)
        let (a, b) = (model.weights(), again.weights())
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (k, v) in a { XCTAssertEqual(b[k]!.scalars, v.scalars, k) }
        // Every key of diffusers' own file, and no other.
        let diffusersNames = try SafetensorsFile(contentsOf: try fixtureURL("unet-small").appendingPathComponent(UNet2DConditionModel.weightsFileName)).names
        XCTAssertEqual(a.keys.sorted(), diffusersNames)
    }

    /// A Relief checkpoint carries the configuration in its weights' metadata (`unet_config`);
    /// `isStored(at:)` (what `relief-infer export` asks) tells it and diffusers folders from VAEs.
    func testReliefCheckpointsLoadAndAreToldFromVAEs() throws {
        let model = try UNet2DConditionModel.load(folder: try fixtureURL("unet-small"))
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("unet-run-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: run) }
        try CheckpointDirectory(root: run).commit(step: 5) { staging in
            try staging.writeSafetensors("model.safetensors", model.weights(),
                                         metadata: [UNet2DConditionConfiguration.metadataKey: model.configuration.json()])
        }
        XCTAssertTrue(UNet2DConditionModel.isStored(at: run.path))
        XCTAssertTrue(UNet2DConditionModel.isStored(at: try fixtureURL("unet-small").path))
        XCTAssertFalse(UNet2DConditionModel.isStored(at: try fixtureURL("vae-small").path))
        XCTAssertFalse(UNet2DConditionModel.isStored(at: run.appendingPathComponent("missing").path))
        let (loaded, source) = try UNet2DConditionModel.load(path: run.path)
        XCTAssertTrue(source.hasSuffix("model.safetensors"), source)
        XCTAssertEqual(loaded.configuration, model.configuration)
        let (a, b) = (model.weights(), loaded.weights())
        for (k, v) in a { XCTAssertEqual(b[k]?.scalars, v.scalars, k) }
        // A larger model holding the UNet under `unet.` (the multi-view diffusion model) gives its UNet.
        var nested: [String: Tensor] = ["condition_encoder.conv_in.weight": Tensor(zeros: [2, 2])]
        for (k, v) in a { nested[UNet2DConditionModel.nestedPrefix + k] = v }
        try CheckpointDirectory(root: run).commit(step: 6) { staging in
            try staging.writeSafetensors("model.safetensors", nested,
                                         metadata: [UNet2DConditionConfiguration.metadataKey: model.configuration.json()])
        }
        let (inner, _) = try UNet2DConditionModel.load(path: run.path)
        XCTAssertEqual(inner.weights()["conv_out.weight"]?.scalars, a["conv_out.weight"]?.scalars)
        XCTAssertThrowsError(try UNet2DConditionModel.load(try SafetensorsFile(contentsOf: try fixtureURL("vae-small")
            .appendingPathComponent(AutoencoderKL.weightsFileName)))) { XCTAssertTrue("\($0)".contains("no 'unet_config' metadata"), "\($0)") }
    }

    func testBadCheckpointsNameTheFile() throws {
        let source = try fixtureURL("unet-small")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("unet-bad-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let weights = folder.appendingPathComponent(UNet2DConditionModel.weightsFileName)
        let config = folder.appendingPathComponent(UNet2DConditionModel.configFileName)
        try FileManager.default.copyItem(at: source.appendingPathComponent(UNet2DConditionModel.weightsFileName), to: weights)
        // Weights of another configuration: more input channels than the weights have.
        var json = try String(contentsOf: source.appendingPathComponent(UNet2DConditionModel.configFileName), encoding: .utf8)
        json = json.replacingOccurrences(of: "\"in_channels\": 8", with: "\"in_channels\": 4")
        try json.write(to: config, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try UNet2DConditionModel.load(folder: folder)) { error in
            XCTAssertTrue("\(error)".contains(weights.path), "\(error)")
            XCTAssertTrue("\(error)".contains("conv_in.weight: expected [16, 4, 3, 3], got [16, 8, 3, 3]"), "\(error)")
        }
        try FileManager.default.removeItem(at: weights)
        XCTAssertThrowsError(try UNet2DConditionModel.load(folder: folder)) { XCTAssertTrue("\($0)".contains(weights.path), "\($0)") }
        try FileManager.default.removeItem(at: config)
        XCTAssertThrowsError(try UNet2DConditionModel.load(folder: folder)) { XCTAssertTrue("\($0)".contains(config.path), "\($0)") }
    }

    /// Each misuse of `callAsFunction` stops with a message saying what was expected.
    func testMisuseStopsWithAMessage() throws {
        let model = try UNet2DConditionModel.load(folder: try fixtureURL("unet-small"))
        var rng = Philox(seed: 8)
        let sample = Tensor.normal([6, 8, 8, 8], rng: &rng), states = Tensor.normal([6, 4, 12], rng: &rng)
        let labels = Tensor.normal([6, 16], rng: &rng), t = [Float](repeating: 10, count: 6)
        let wrongChannels = Tensor.normal([6, 4, 8, 8], rng: &rng), oddSize = Tensor.normal([6, 8, 8, 7], rng: &rng)
        let perSampleStates = Tensor.normal([2, 4, 12], rng: &rng), narrowLabels = Tensor.normal([6, 8], rng: &rng)
        func expect(_ fragments: String..., line: UInt = #line, _ body: @escaping () -> Void) {
            XCTAssertNil(Misuse.problem(expecting: fragments, body), line: line)
        }
        expect("sample [6, 4, 8, 8]", "in_channels 8") {
            _ = model(wrongChannels, timesteps: t, encoderHiddenStates: states, classLabels: labels, views: 3, multiView: .dense)
        }
        expect("batch 6 is not a multiple of 4 views") {
            _ = model(sample, timesteps: t, encoderHiddenStates: states, classLabels: labels, views: 4, multiView: .sparse)
        }
        expect("2 timesteps for a batch of 6 images") {
            _ = model(sample, timesteps: [1, 2], encoderHiddenStates: states, classLabels: labels, views: 3, multiView: .dense)
        }
        expect("sample size 8×7 is not divisible by 2") {
            _ = model(oddSize, timesteps: t, encoderHiddenStates: states, classLabels: labels, views: 3, multiView: .dense)
        }
        expect("encoderHiddenStates missing", "[6, M, 12]") {
            _ = model(sample, timesteps: t, encoderHiddenStates: nil, classLabels: labels, views: 3, multiView: .dense)
        }
        expect("encoderHiddenStates [2, 4, 12]", "expected [6, M, 12]") {
            _ = model(sample, timesteps: t, encoderHiddenStates: perSampleStates, classLabels: labels, views: 3, multiView: .dense)
        }
        expect("classLabels missing", "[6, 16]") {
            _ = model(sample, timesteps: t, encoderHiddenStates: states, classLabels: nil, views: 3, multiView: .dense)
        }
        expect("classLabels [6, 8]", "expected [6, 16]") {
            _ = model(sample, timesteps: t, encoderHiddenStates: states, classLabels: narrowLabels, views: 3, multiView: .none)
        }
        var bad = model.configuration
        bad.normNumGroups = 5
        expect("norm_num_groups is 5") { _ = UNet2DConditionModel(configuration: bad) }
    }
}
