import Checkpoints
import Foundation
import Tensors
import XCTest

/// Content hashes, references to the checkpoints a run depends on, and key mappings.
final class CheckpointReferenceTests: XCTestCase {
    /// FIPS 180-4's examples, and the same bytes fed in uneven pieces.
    func testSHA256MatchesTheStandardVectors() {
        func hex(_ s: String) -> String { Array(s.utf8).withUnsafeBytes { SHA256.hex($0) } }
        XCTAssertEqual(hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        XCTAssertEqual(million.withUnsafeBytes { SHA256.hex($0) }, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        var pieces = SHA256()
        million.withUnsafeBytes { all in
            var at = 0
            for size in [1, 63, 64, 65, 1000, 4095, 333_333] + [Int](repeating: 100_000, count: 6) {
                let n = min(size, all.count - at)
                pieces.update(UnsafeRawBufferPointer(rebasing: all[at..<(at + n)]))
                at += n
            }
            pieces.update(UnsafeRawBufferPointer(rebasing: all[at...]))
        }
        XCTAssertEqual(pieces.finalize(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testKeyMappingTakesSubtreesAndMovesPrefixesAtComponentBoundaries() throws {
        let keys = ["unet.conv_in.weight", "unet.blocks.1.w", "unet.blocks.10.w", "vae.decoder.w", "module.x", "x2"]
        func mapped(_ m: TensorKeyMapping) -> [String: String] {
            Dictionary(uniqueKeysWithValues: keys.compactMap { k in m.map(k).map { (k, $0) } })
        }
        XCTAssertEqual(mapped(.identity).count, keys.count)
        XCTAssertEqual(mapped(TensorKeyMapping(subtree: "unet")),
                       ["unet.conv_in.weight": "conv_in.weight", "unet.blocks.1.w": "blocks.1.w", "unet.blocks.10.w": "blocks.10.w"])
        XCTAssertEqual(mapped(TensorKeyMapping(subtree: "unet.blocks.1.")), ["unet.blocks.1.w": "w"], "blocks.1 is not blocks.10")
        XCTAssertEqual(mapped(TensorKeyMapping(stripPrefix: "module"))["module.x"], "x")
        XCTAssertEqual(mapped(TensorKeyMapping(stripPrefix: "module"))["x2"], "x2", "keys without the prefix pass unchanged")
        XCTAssertEqual(mapped(TensorKeyMapping(addPrefix: "backbone."))["x2"], "backbone.x2")
        XCTAssertEqual(mapped(TensorKeyMapping(subtree: "vae", stripPrefix: "decoder", addPrefix: "head"))["vae.decoder.w"], "head.w")
        XCTAssertEqual(mapped(TensorKeyMapping(subtree: "vae", stripPrefix: "decoder", addPrefix: "head")).count, 1)
        XCTAssertEqual("\(TensorKeyMapping(subtree: "a.", addPrefix: "b"))", "subtree 'a', add_prefix 'b'")

        // Two checkpoint keys that become one name: refused, naming both.
        let t = Tensor(zeros: [1])
        XCTAssertThrowsError(try TensorKeyMapping(stripPrefix: "module").apply(["module.x": t, "x": t], file: "w.safetensors")) {
            XCTAssertEqual("\($0)", "safetensors w.safetensors: tensor 'x': and 'module.x' both become 'x' under strip_prefix 'module'")
        }
        XCTAssertEqual(try TensorKeyMapping(subtree: "unet").apply(["unet.a": t, "vae.b": t], file: "f").keys.sorted(), ["a"])
    }

    /// A reference finds its file by the recorded path, by an override, or in a checkpoint tree
    /// moved as a whole, and refuses bytes that are not the recorded ones.
    func testReferencesOpenOnlyTheRecordedWeights() throws {
        let root = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let runs = root.appendingPathComponent("checkpoints")
        let source = CheckpointDirectory(root: runs.appendingPathComponent("vae"))
        let weights: [String: Tensor] = ["w": Tensor([1, 2, 3], shape: [3])]
        let checkpoint = try source.commit(step: 4) { try $0.writeSafetensors("ema.safetensors", weights) }
        let reference = try CheckpointReference(checkpoint: checkpoint, file: "ema.safetensors")
        let bytes = try Data(contentsOf: checkpoint.file("ema.safetensors"))
        XCTAssertEqual(reference.sha256, bytes.withUnsafeBytes { SHA256.hex($0) })
        XCTAssertEqual(try reference.open().tensor("w").scalars, [1, 2, 3])

        // The trained model's checkpoint records it; inference resolves it from there.
        let trained = try CheckpointDirectory(root: runs.appendingPathComponent("unet")).commit(step: 9) {
            try $0.writeSafetensors("model.safetensors", weights, metadata: FrozenModelSources.metadata(["vae": reference]))
        }
        let trainedFile = try trained.safetensors("model.safetensors")
        XCTAssertEqual(try FrozenModelSources.read(trainedFile), ["vae": reference])
        XCTAssertEqual(try FrozenModelSources.resolve(trainedFile)["vae"]?.path, reference.path)

        // The whole tree moved: found beside the trained run.
        let moved = root.appendingPathComponent("moved")
        try FileManager.default.moveItem(at: runs, to: moved)
        let movedFile = try SafetensorsFile(path: moved.appendingPathComponent("unet/step-00000009/model.safetensors").path)
        XCTAssertEqual(try FrozenModelSources.resolve(movedFile)["vae"]?.path,
                       moved.appendingPathComponent("vae/step-00000004/ema.safetensors").path)
        XCTAssertThrowsError(try reference.open()) { XCTAssertTrue("\($0)".contains("does not exist"), "\($0)") }

        // Other weights in the recorded place: refused, naming both hashes.
        let impostor = CheckpointDirectory(root: root.appendingPathComponent("elsewhere"))
        let other = try impostor.commit(step: 1) { try $0.writeSafetensors("ema.safetensors", ["w": Tensor([1, 2, 4], shape: [3])]) }
        XCTAssertThrowsError(try FrozenModelSources.resolve(movedFile, overrides: ["vae": impostor.root.path])) { error in
            XCTAssertTrue("\(error)".contains("frozen sub-model 'vae'"), "\(error)")
            XCTAssertTrue("\(error)".contains("not the recorded \(reference.sha256)"), "\(error)")
        }
        XCTAssertEqual(try reference.open(override: moved.appendingPathComponent("vae/step-00000004").path).tensor("w").scalars, [1, 2, 3])
        XCTAssertEqual(try reference.open(override: moved.appendingPathComponent("vae/step-00000004/ema.safetensors").path).path,
                       moved.appendingPathComponent("vae/step-00000004/ema.safetensors").path)
        XCTAssertThrowsError(try FrozenModelSources.resolve(movedFile, overrides: ["vea": other.url.path])) {
            XCTAssertTrue("\($0)".contains("has no frozen sub-model 'vea' (it has: vae)"), "\($0)")
        }
    }
}
