import Foundation
import XCTest
@testable import Checkpoints
import Tensors

final class SafetensorsTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try makeScratchFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func testRoundTripKeepsShapesValuesAndMetadata() throws {
        var rng = Philox(seed: 7)
        let tensors: [String: Tensor] = [
            "down_blocks.0.resnets.1.conv1.weight": Tensor.normal([4, 3, 3, 3], rng: &rng),
            "a.bias": Tensor.normal([5], rng: &rng),
            "scalar": Tensor(scalar: -0.125),
            "empty": Tensor(zeros: [0, 7]),
            "with \"quote\" \\ ü": Tensor([1, 2, 3, 4], shape: [2, 2]),
        ]
        let metadata = ["format": "pt", "recipe": "line1\nline2 \"q\" \u{01} ✓"]
        let url = folder.appendingPathComponent("round.safetensors")
        try Safetensors.write(tensors, metadata: metadata, to: url)

        let file = try SafetensorsFile(contentsOf: url)
        XCTAssertEqual(file.metadata, metadata)
        XCTAssertEqual(Set(file.names), Set(tensors.keys))
        for (name, t) in tensors {
            let back = try file.tensor(name)
            XCTAssertEqual(back.shape, t.shape, name)
            XCTAssertEqual(back.scalars, t.scalars, name)
            XCTAssertEqual(file.entries[name]?.dtype, .f32)
        }
        // Data follows the header at an 8-byte boundary, tensors in sorted name order.
        let raw = try Data(contentsOf: url)
        let headerLength = raw.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        XCTAssertEqual(headerLength % 8, 0)
        let starts = file.names.map { file.entries[$0]!.dataRange.lowerBound }
        XCTAssertEqual(starts, starts.sorted())
        XCTAssertEqual(file.entries[file.names[0]]!.dataRange.lowerBound, 0)
    }

    func testReadsIntoCallerMemoryAndChecksItsSize() throws {
        let url = folder.appendingPathComponent("into.safetensors")
        try Safetensors.write(["w": Tensor([1, 2, 3], shape: [3])], to: url)
        let file = try SafetensorsFile(contentsOf: url)
        var flat = [Float](repeating: 0, count: 5)
        try flat.withUnsafeMutableBufferPointer { try file.read("w", into: UnsafeMutableBufferPointer(rebasing: $0[1..<4])) }
        XCTAssertEqual(flat, [0, 1, 2, 3, 0])
        var small = [Float](repeating: 0, count: 2)
        XCTAssertThrowsError(try small.withUnsafeMutableBufferPointer { try file.read("w", into: $0) }) { error in
            XCTAssertTrue("\(error)".contains("'w'") && "\(error)".contains("room for 2"), "\(error)")
        }
        XCTAssertThrowsError(try file.tensor("missing")) { error in
            XCTAssertTrue("\(error)".contains("'missing'") && "\(error)".contains("no such tensor"), "\(error)")
        }
    }

    /// A file written by the reference Rust crate (Fixtures/make_fixture.py): F32, F16, BF16, I64.
    func testReadsPythonFixtureWithHalfPrecision() throws {
        let url = try XCTUnwrap(Bundle.module.resourceURL?.appendingPathComponent("Fixtures/mixed.safetensors"))
        let file = try SafetensorsFile(contentsOf: url)
        XCTAssertEqual(file.metadata, ["format": "pt", "note": "relief fixture"])
        XCTAssertEqual(file.entries["decoder.bias"]?.dtype, .f16)
        XCTAssertEqual(file.entries["ema.scale"]?.dtype, .bf16)

        let f32 = try file.tensor("encoder.weight")
        XCTAssertEqual(f32.shape, [2, 3])
        XCTAssertEqual(f32.scalars, [1, -2.5, 3.25, 0, 1e-8, -1e30])

        let f16 = try file.tensor("decoder.bias").scalars
        XCTAssertEqual(Array(f16[0..<5]), [1, -2, 0.5, 65504, 0x1p-24])
        XCTAssertEqual(f16[5].bitPattern, (-Float(0)).bitPattern)
        XCTAssertEqual(f16[6], -.infinity)

        // BF16 is the top half of a float32: truncation of the sources in the script.
        let bf16 = try file.tensor("ema.scale")
        XCTAssertEqual(bf16.shape, [2, 2])
        let truncated = [Float(1.0), -3.140625, 1.5e10, 0x1p-130].map { Float(bitPattern: $0.bitPattern & 0xffff_0000) }
        XCTAssertEqual(bf16.scalars, truncated)

        let step = try file.tensor("step")
        XCTAssertEqual(step.shape, [])
        XCTAssertEqual(step.item, 1234)
    }

    #if !(os(macOS) && arch(x86_64))
    func testHalfConversionIsExactForAllBitPatterns() {
        for bits in 0...UInt16.max {
            let mine = floatFromHalf(bits), reference = Float(Float16(bitPattern: bits))
            if reference.isNaN { XCTAssertTrue(mine.isNaN, "\(bits)"); continue }
            XCTAssertEqual(mine.bitPattern, reference.bitPattern, "half bits \(bits)")
        }
    }
    #endif

    // MARK: validation — every malformed file is an error naming the file and, where one is at fault, the tensor.

    private func expectError(_ header: String, data: [UInt8] = [], declaredLength: UInt64? = nil, file: StaticString = #filePath, line: UInt = #line,
                             _ fragments: String...) throws {
        let url = folder.appendingPathComponent("bad-\(line).safetensors")
        try writeRawSafetensors(url, header: header, data: data, declaredLength: declaredLength)
        XCTAssertThrowsError(try SafetensorsFile(contentsOf: url), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(url.path), "error does not name the file: \(text)", file: file, line: line)
            for f in fragments { XCTAssertTrue(text.contains(f), "'\(f)' missing in: \(text)", file: file, line: line) }
        }
    }

    func testRejectsMalformedHeaders() throws {
        let twelve = floatBytes([1, 2, 3])
        try expectError(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}"#, data: twelve, declaredLength: 10_000,
                        "runs past the end")
        try expectError("{}", declaredLength: 1 << 40, "exceeds")
        try expectError(#"{"w":{"dtype":"F32","#, "not valid JSON")
        try expectError("[1, 2]", "not a JSON object")
        try expectError(#"{"w":{"dtype":"F8_E9","shape":[3],"data_offsets":[0,12]}}"#, data: twelve, "'w'", "unsupported dtype \"F8_E9\"")
        try expectError(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}"#, data: twelve, "'w'", "needs 8")
        try expectError(#"{"w":{"dtype":"F32","shape":[-3],"data_offsets":[0,12]}}"#, data: twelve, "'w'", "negative")
        try expectError(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[12,0]}}"#, data: twelve, "'w'", "backwards")
        try expectError(#"{"w":{"dtype":"F32","shape":[3]}}"#, data: twelve, "'w'", "data_offsets")
        try expectError(#"{"__metadata__":{"a":1},"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}"#, data: twelve,
                        "__metadata__ value for 'a'")
        // Overlap, gap, truncation and trailing bytes between otherwise valid entries.
        try expectError(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                        data: twelve, "'b'", "overlap")
        try expectError(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
                        data: twelve, "'b'", "gap")
        try expectError(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: twelve, "'a'", "truncated")
        try expectError(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: twelve, "4 bytes after the last tensor")
    }

    func testRejectsTinyTruncatedAndMissingFiles() throws {
        let tiny = folder.appendingPathComponent("tiny.safetensors")
        try Data([1, 2, 3]).write(to: tiny)
        XCTAssertThrowsError(try SafetensorsFile(contentsOf: tiny)) { XCTAssertTrue("\($0)".contains("too small"), "\($0)") }

        let good = folder.appendingPathComponent("good.safetensors")
        try Safetensors.write(["x": Tensor(zeros: [100]), "y": Tensor(zeros: [10])], to: good)
        let whole = try Data(contentsOf: good)
        let cut = folder.appendingPathComponent("cut.safetensors")
        try whole.prefix(whole.count - 20).write(to: cut)
        XCTAssertThrowsError(try SafetensorsFile(contentsOf: cut)) { error in
            XCTAssertTrue("\(error)".contains("cut.safetensors") && "\(error)".contains("'y'") && "\(error)".contains("truncated"), "\(error)")
        }
        XCTAssertThrowsError(try SafetensorsFile(contentsOf: folder.appendingPathComponent("nope.safetensors"))) { error in
            XCTAssertTrue("\(error)".contains("nope.safetensors") && "\(error)".contains("No such file"), "\(error)")
        }
    }

    func testWriteFailureNamesFileAndTensorAndLeavesNothing() throws {
        let url = folder.appendingPathComponent("big.safetensors")
        try withFileSizeLimit(1 << 16) {
            XCTAssertThrowsError(try Safetensors.write(["big": Tensor(zeros: [1 << 16])], to: url)) { error in
                XCTAssertTrue("\(error)".contains("big.safetensors") && "\(error)".contains("'big'") && "\(error)".contains("too large"), "\(error)")
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path), "the partial file is removed")
        let inMissingFolder = folder.appendingPathComponent("missing/x.safetensors")
        XCTAssertThrowsError(try Safetensors.write(["w": Tensor(zeros: [1])], to: inMissingFolder)) { error in
            XCTAssertTrue("\(error)".contains("x.safetensors"), "\(error)")
        }
        XCTAssertThrowsError(try Safetensors.write(["__metadata__": Tensor(zeros: [1])], to: folder.appendingPathComponent("m.safetensors")))
    }

    // MARK: interoperability with the reference implementation

    func testPythonReadsWhatReliefWrites() throws {
        try requirePythonSafetensors()
        let url = folder.appendingPathComponent("relief.safetensors")
        let a = Tensor((0..<24).map { Float($0) * 0.5 - 3 }, shape: [2, 3, 4])
        try Safetensors.write(["layer.weight": a, "layer.bias": Tensor([7, -8], shape: [2]), "s": Tensor(scalar: 3)],
                              metadata: ["format": "pt", "step": "12"], to: url)
        let script = """
        import sys, numpy as np
        from safetensors import safe_open
        from safetensors.numpy import load_file
        d = load_file(sys.argv[1])
        assert sorted(d) == ["layer.bias", "layer.weight", "s"], sorted(d)
        w = d["layer.weight"]
        assert w.dtype == np.float32 and w.shape == (2, 3, 4), (w.dtype, w.shape)
        assert np.array_equal(w.ravel(), np.arange(24, dtype=np.float32) * 0.5 - 3)
        assert d["layer.bias"].tolist() == [7.0, -8.0] and d["s"].shape == () and d["s"] == 3
        with safe_open(sys.argv[1], "np") as f:
            assert f.metadata() == {"format": "pt", "step": "12"}, f.metadata()
        print("ok")
        """
        let (status, output) = try runPython(script, arguments: [url.path])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("ok"), output)
    }

    func testReliefReadsWhatPythonWrites() throws {
        try requirePythonSafetensors()
        let url = folder.appendingPathComponent("python.safetensors")
        let script = """
        import sys, numpy as np
        from safetensors import _safetensors_rust as st
        from safetensors.numpy import save_file
        rng = np.random.default_rng(3)
        half = rng.standard_normal((3, 5)).astype(np.float16)
        full = rng.standard_normal((4, 2)).astype(np.float32)
        source = rng.standard_normal(6).astype(np.float32)
        bf16 = (source.view(np.uint32) >> 16).astype(np.uint16)
        specs = {"half": st.TensorSpec(dtype="float16", shape=[3, 5], data_ptr=half.ctypes.data, data_len=half.nbytes),
                 "full": st.TensorSpec(dtype="float32", shape=[4, 2], data_ptr=full.ctypes.data, data_len=full.nbytes),
                 "brain": st.TensorSpec(dtype="bfloat16", shape=[6], data_ptr=bf16.ctypes.data, data_len=bf16.nbytes)}
        st.serialize_file(specs, sys.argv[1], metadata={"who": "python"})
        expected = np.concatenate([half.astype(np.float32).ravel(), full.ravel(),
                                   (bf16.astype(np.uint32) << 16).view(np.float32)])
        print(" ".join(str(int(b)) for b in expected.view(np.uint32)))
        """
        let (status, output) = try runPython(script, arguments: [url.path])
        XCTAssertEqual(status, 0, output)
        let expected = output.split(whereSeparator: \.isWhitespace).compactMap { UInt32($0) }
        XCTAssertEqual(expected.count, 15 + 8 + 6, output)

        let file = try SafetensorsFile(contentsOf: url)
        XCTAssertEqual(file.metadata, ["who": "python"])
        XCTAssertEqual(try file.tensor("half").shape, [3, 5])
        let mine = try file.tensor("half").scalars + file.tensor("full").scalars + file.tensor("brain").scalars
        XCTAssertEqual(mine.map(\.bitPattern), expected)
    }
}
