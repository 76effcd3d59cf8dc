import Checkpoints
import Foundation
import Identity
import Layers
import Tensors
import XCTest

final class IdentityEncoderTests: XCTestCase {
    static func tinyConfiguration(classes: Int = 3) -> IdentityEncoderConfiguration {
        var c = IdentityEncoderConfiguration()
        c.resolution = 8
        c.blockOutChannels = [4, 8]
        c.normNumGroups = 2
        c.embeddingDimension = 6
        c.classes = classes
        return c
    }

    func testEmbeddingsAreUnitLengthAndResizedInputsWork() {
        let encoder = IdentityEncoder(Self.tinyConfiguration())
        _ = ParameterStore(model: encoder, seed: 1)
        var rng = Philox(seed: 2, stream: 0)
        let images = Tensor.uniform([3, 3, 16, 16], low: 0, high: 1, rng: &rng)
        let e = withoutGradients { encoder(images) }
        XCTAssertEqual(e.shape, [3, 6])
        for i in 0..<3 {
            let norm = (0..<6).map { Double(e[flat: i * 6 + $0]) }.reduce(0) { $0 + $1 * $1 }.squareRoot()
            XCTAssertEqual(norm, 1, accuracy: 1e-5)
        }
        XCTAssertEqual(encoder.csim(images, images).map { ($0 * 1e5).rounded() / 1e5 }, [1, 1, 1])
        let names = Set(encoder.allParameters().map(\.name))
        XCTAssertTrue(names.isSuperset(of: ["class_centres", "conv_in.weight", "down_blocks.0.resnets.0.conv1.weight",
                                            "down_blocks.1.downsamplers.0.conv.weight", "embedding.weight", "features.running_mean", "features.running_var"]), "\(names.sorted())")
    }

    func testCheckpointRoundTripRebuildsTheSameEncoder() throws {
        let encoder = IdentityEncoder(Self.tinyConfiguration())
        let store = ParameterStore(model: encoder, seed: 5)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("identity-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("model.safetensors")
        try Safetensors.write(store.stateDictionary(), metadata: [IdentityEncoderConfiguration.metadataKey: encoder.configuration.json()], to: url)
        let loaded = try IdentityEncoder.load(try SafetensorsFile(path: url.path))
        XCTAssertEqual(loaded.configuration, encoder.configuration)
        var rng = Philox(seed: 6, stream: 0)
        let images = Tensor.uniform([2, 3, 8, 8], low: 0, high: 1, rng: &rng)
        XCTAssertEqual(withoutGradients { loaded(images) }.scalars, withoutGradients { encoder(images) }.scalars)

        try Safetensors.write(store.stateDictionary(), to: url)
        XCTAssertThrowsError(try IdentityEncoder.load(try SafetensorsFile(path: url.path))) {
            XCTAssertTrue("\($0)".contains("no 'identity_config' metadata"), "\($0)")
        }
    }

    func testConfigurationReadsOlderJSONAndRefusesBadShapes() throws {
        let c = try IdentityEncoderConfiguration.fromJSON(#"{"version": 1, "classes": 7}"#)
        XCTAssertEqual(c.classes, 7)
        XCTAssertEqual(c.blockOutChannels, IdentityEncoderConfiguration().blockOutChannels)
        XCTAssertTrue(c.seesWholeImage, "version 1 encoders saw whole images")
        for box: [Float] in [[0.5, 0, 0.6], [0, 0, 0], [0, 0], [-0.1, 0, 0.5]] {
            var boxed = IdentityEncoderConfiguration()
            boxed.faceBox = box
            XCTAssertTrue(boxed.problem?.hasPrefix("face_box") == true, "\(box): \(boxed.problem ?? "accepted")")
        }
        var bad = IdentityEncoderConfiguration()
        bad.resolution = 60
        XCTAssertNotNil(bad.problem)
        bad = IdentityEncoderConfiguration()
        bad.normNumGroups = 5
        XCTAssertNotNil(bad.problem)
        XCTAssertNil(IdentityEncoderConfiguration().problem)
    }

    /// With a face box, an image's embedding is the whole-image encoder's embedding of the box
    /// cut out of it (same weights): rows 3..<9 and columns 5..<13 of a 16 × 20 image (the box is a fraction of each side), not the image resized.
    func testFaceBoxEmbedsTheBoxCutOutOfTheImage() throws {
        var boxed = Self.tinyConfiguration()
        boxed.faceBox = [0.1875, 0.25, 0.375]
        let whole = IdentityEncoder(Self.tinyConfiguration()), encoder = IdentityEncoder(boxed)
        let store = ParameterStore(model: whole, seed: 3)
        try ParameterStore(model: encoder, seed: 4).load(store.stateDictionary())
        var rng = Philox(seed: 5, stream: 0)
        let images = Tensor.uniform([2, 3, 16, 20], low: 0, high: 1, rng: &rng)
        XCTAssertEqual(encoder.faceCrop(images).shape, [2, 3, 6, 8])
        let cut = images.sliced(axis: 2, range: 3 ..< 9).sliced(axis: 3, range: 5 ..< 13)
        XCTAssertEqual(withoutGradients { encoder(images) }.scalars, withoutGradients { whole(cut) }.scalars)
        XCTAssertNotEqual(withoutGradients { encoder(images) }.scalars, withoutGradients { whole(images) }.scalars)
    }

    /// Gradients reach the images through a frozen (loaded, slot-less) encoder: what the identity
    /// loss of another model needs.
    func testInputGradientThroughFrozenEncoderMatchesFiniteDifferences() throws {
        let encoder = IdentityEncoder(Self.tinyConfiguration(classes: 0))
        _ = ParameterStore(model: encoder, seed: 9, trainable: false)
        var rng = Philox(seed: 10, stream: 0)
        let images = Tensor.uniform([2, 3, 8, 8], low: 0.2, high: 0.8, rng: &rng)
        let error = maxGradientError(inputs: [images], epsilon: 1e-2, floor: 1e-2) { encoder($0[0]) }
        XCTAssertLessThan(error, 2e-2)
    }
}

/// The embedding's batch norm against torch.nn.BatchNorm1d(affine=False)
/// (`scripts/fixtures/make_identity_fixtures.py`): training output, input gradient and running
/// statistics, then the eval-mode output.
final class EmbeddingBatchNormTests: XCTestCase {
    func testMatchesPyTorchBatchNorm1d() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/batch_norm", withExtension: "safetensors"), "fixture missing")
        let f = try SafetensorsFile(path: url.path)
        let norm = EmbeddingBatchNorm(features: 4)
        _ = ParameterStore(model: norm, seed: 0)
        func close(_ a: [Float], _ b: [Float], _ what: String) {
            XCTAssertEqual(a.count, b.count, what)
            for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-4 * max(1, abs(y)), what) }
        }
        let tape = Tape.shared
        tape.reset()
        let x = try f.tensor("input").requiringGradient()
        let y = norm(x, training: true)
        close(y.scalars, try f.tensor("output").scalars, "output")
        tape.backward(y, seed: try f.tensor("probe"))
        close(try XCTUnwrap(tape.gradient(of: x)).scalars, try f.tensor("grad_input").scalars, "input gradient")
        close(norm.runningMean.value.scalars, try f.tensor("running_mean").scalars, "running mean")
        close(norm.runningVariance.value.scalars, try f.tensor("running_var").scalars, "running variance")
        close(withoutGradients { norm(try! f.tensor("input_eval"), training: false) }.scalars, try f.tensor("output_eval").scalars, "eval output")
        XCTAssertFalse(norm.runningMean.requiresGradient)
    }
}
