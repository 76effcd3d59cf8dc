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
                                            "down_blocks.1.downsamplers.0.conv.weight", "embedding.weight"]), "\(names.sorted())")
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
        var bad = IdentityEncoderConfiguration()
        bad.resolution = 60
        XCTAssertNotNil(bad.problem)
        bad = IdentityEncoderConfiguration()
        bad.normNumGroups = 5
        XCTAssertNotNil(bad.problem)
        XCTAssertNil(IdentityEncoderConfiguration().problem)
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
