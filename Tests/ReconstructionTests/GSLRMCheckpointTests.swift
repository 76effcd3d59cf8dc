import Checkpoints
import Foundation
import Layers
import Reconstruction
import Splatting
import Tensors
import XCTest

/// Loading GS-LRM checkpoints: a loaded model is safe to differentiate through, and checkpoints
/// written by older code keep loading.
final class GSLRMCheckpointTests: XCTestCase {
    func tinyConfiguration() -> GSLRMConfiguration {
        var c = GSLRMConfiguration()
        c.width = 16; c.layers = 1; c.heads = 2; c.patchSize = 4; c.resolution = 8; c.inputViews = 1
        return c
    }

    /// The weights file of a freshly initialised model, as a checkpoint writes it.
    func weightsFile(_ c: GSLRMConfiguration, seed: UInt64) throws -> SafetensorsFile {
        let model = GSLRM(c)
        let store = ParameterStore(model: model, seed: seed)
        let url = URL(fileURLWithPath: NSTemporaryDirectory() + "gslrm-\(UUID().uuidString).safetensors")
        try Safetensors.write(store.stateDictionary(), metadata: [GSLRMConfiguration.metadataKey: c.json()], to: url)
        return try SafetensorsFile(path: url.path)
    }

    /// `GSLRM.load` used to build a store and drop it: its parameters kept tape slots pointing
    /// into a gradient buffer already back in the pool, so a backward through the model wrote
    /// into whatever took that buffer next. Now the loaded model tracks no gradients: a tensor
    /// of the old buffer's size stays untouched, the input gradient matches finite differences,
    /// and no tape slot is held.
    func testBackwardThroughALoadedModelReachesItsInputsOnly() throws {
        let c = tinyConfiguration()
        let file = try weightsFile(c, seed: 21)
        let slots = Tape.shared.livePersistentSlots
        let model = try GSLRM.load(file)
        XCTAssertEqual(Tape.shared.livePersistentSlots, slots)
        XCTAssertTrue(model.allParameters().allSatisfy { !$0.parameter.value.isTracked })
        for (name, p) in model.allParameters() { XCTAssertEqual(p.value.scalars, try file.tensor(name).scalars, name) }

        // A flat gradient buffer of this model's size, as a dropped store would have left in the pool.
        let flatSize = model.allParameters().reduce(0) { $0 + ($1.parameter.count + 15) / 16 * 16 }
        let bystander = Tensor(repeating: 7, shape: [flatSize])

        var rng = Philox(seed: 5)
        let images = Tensor.uniform([1, 1, 3, 8, 8], low: 0, high: 1, rng: &rng)
        let posed = model.posedInput(images: images, cameras: [OrbitRig.random(count: 1, size: 8, rng: &rng)])
        let (_, grads) = gradients(of: [posed]) { model($0[0]) }
        XCTAssertGreaterThan(grads[0].scalars.map(abs).max()!, 0)
        XCTAssertTrue(bystander.scalars.allSatisfy { $0 == 7 }, "backward wrote into memory the model does not own")
        // Float central differences through LayerNorm and attention: 2% of the larger side
        // (floor 0.05) is 40 times the error measured (5e-4) and far below a wrong gradient's.
        XCTAssertLessThan(maxGradientError(inputs: [posed], epsilon: 1e-2, floor: 5e-2) { model($0[0]) }, 2e-2)
    }

    func testManyLoadsHoldNoTapeSlots() throws {
        let file = try weightsFile(tinyConfiguration(), seed: 2)
        let slots = Tape.shared.livePersistentSlots
        for _ in 0..<50 { _ = try GSLRM.load(file) }
        XCTAssertEqual(Tape.shared.livePersistentSlots, slots)
        // Training a loaded model takes a store of its own; dropping it releases its slots.
        let model = try GSLRM.load(file)
        withExtendedLifetime(ParameterStore(model: model)) {
            XCTAssertTrue(model.allParameters().allSatisfy { $0.parameter.value.isTracked })
            XCTAssertEqual(Tape.shared.livePersistentSlots, slots + model.allParameters().count)
        }
        XCTAssertEqual(Tape.shared.livePersistentSlots, slots)
    }

    /// A complete checkpoint written by the code of commit 5cebe7c, before configurations carried
    /// a version (scripts/fixtures/gslrm_checkpoint_v1.sh): it must load forever.
    func testCheckpointWrittenBeforeVersionedConfigurationsStillLoads() throws {
        let folder = try XCTUnwrap(Bundle.module.resourceURL?.appendingPathComponent("Fixtures/gslrm-checkpoint-v1/step-00000002"))
        let checkpoint = try CheckpointDirectory.resolve(path: folder.path)
        let ema = try checkpoint.safetensors("ema.safetensors")
        XCTAssertNil(ema.metadata[GSLRMConfiguration.metadataKey]?.range(of: "version"), "the fixture predates versions")
        let (model, path) = try GSLRM.load(checkpoint)
        XCTAssertTrue(path.hasSuffix("ema.safetensors"))
        var expected = GSLRMConfiguration()
        expected.width = 16; expected.layers = 1; expected.heads = 2; expected.patchSize = 8; expected.resolution = 32
        expected.inputViews = 2
        XCTAssertEqual(model.configuration, expected)
        for (name, p) in model.allParameters() { XCTAssertEqual(p.value.scalars, try ema.tensor(name).scalars, name) }
        var rng = Philox(seed: 1)
        let images = Tensor.uniform([1, 2, 3, 32, 32], low: 0, high: 1, rng: &rng)
        let gaussians = withoutGradients {
            model.reconstruct(images: images, cameras: [OrbitRig.random(count: 2, size: 32, rng: &rng)])
        }
        XCTAssertEqual(gaussians.count, 2 * 32 * 32)
        XCTAssertNoThrow(try GSLRM.load(checkpoint, preferEMA: false))
    }

    /// Fields a stored configuration lacks read as the defaults of the version that wrote it;
    /// a newer version and a mistyped field are refused naming what is wrong.
    func testConfigurationsReadOlderAndRefuseNewerVersions() throws {
        var c = tinyConfiguration()
        c.opacityBias = -3
        let json = c.json()
        XCTAssertTrue(json.contains("\"version\":\(GSLRMConfiguration.version)"), json)
        XCTAssertEqual(try GSLRMConfiguration.fromJSON(json), c)

        // As a checkpoint written before `opacity_bias` existed would hold it.
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        object["opacity_bias"] = nil
        object["version"] = nil
        let older = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        var expected = c
        expected.opacityBias = GSLRMConfiguration.defaults(forVersion: 1).opacityBias
        XCTAssertEqual(try GSLRMConfiguration.fromJSON(older), expected)

        object["version"] = GSLRMConfiguration.version + 1
        let newer = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        XCTAssertThrowsError(try GSLRMConfiguration.fromJSON(newer)) {
            XCTAssertEqual("\($0)", "gslrm_config is version \(GSLRMConfiguration.version + 1), written by a newer Relief; "
                           + "this build reads versions up to \(GSLRMConfiguration.version)")
        }
        object["version"] = nil
        object["width"] = "wide"
        let mistyped = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        XCTAssertThrowsError(try GSLRMConfiguration.fromJSON(mistyped)) { XCTAssertTrue("\($0)".contains("field 'width'"), "\($0)") }
    }
}
