import XCTest
import Splatting
import Tensors

final class PLYTests: XCTestCase {
    func tempURL() -> URL { FileManager.default.temporaryDirectory.appendingPathComponent("relief-\(UUID()).ply") }

    func testRoundTripAndLayout() throws {
        let s = TestScene.random(count: 37, seed: 5)
        let scene = GaussianScene(means: s.means.viewing(as: [37, 3]), quaternions: s.quaternions.viewing(as: [37, 4]),
                                  logScales: s.logScales.viewing(as: [37, 3]), opacityLogits: s.opacityLogits.viewing(as: [37]),
                                  shDC: s.shDC.viewing(as: [37, 3]))
        let url = tempURL()
        defer { try? FileManager.default.removeItem(at: url) }
        try GaussianPLY.write(scene, to: url)
        let data = try Data(contentsOf: url)
        let header = String(decoding: data.prefix(4000), as: UTF8.self)
        XCTAssertTrue(header.hasPrefix("ply\nformat binary_little_endian 1.0\nelement vertex 37\nproperty float x\n"))
        XCTAssertTrue(header.contains("property float f_rest_44\nproperty float opacity\nproperty float scale_0"))
        let headerBytes = data.range(of: Data("end_header\n".utf8))!.upperBound
        XCTAssertEqual(data.count - headerBytes, 37 * 62 * 4)
        // Vertex 1's rot_0 sits at float 58 of its record; f_rest is zero.
        let rec = data.subdata(in: headerBytes + 62 * 4 ..< headerBytes + 124 * 4).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        XCTAssertEqual(rec[58], s.quaternions[flat: 4])
        XCTAssertEqual(rec[54], s.opacityLogits[flat: 1])
        XCTAssertTrue(rec[9..<54].allSatisfy { $0 == 0 })
        let back = try GaussianPLY.read(url)
        XCTAssertEqual(back.means.scalars, scene.means.scalars)
        XCTAssertEqual(back.quaternions.scalars, scene.quaternions.scalars)
        XCTAssertEqual(back.logScales.scalars, scene.logScales.scalars)
        XCTAssertEqual(back.opacityLogits.scalars, scene.opacityLogits.scalars)
        XCTAssertEqual(back.shDC.scalars, scene.shDC.scalars)
        XCTAssertNil(back.shRest)
        // Rendering the file equals rendering the tensors.
        let cam = OrbitRig.diffusion(size: 24)[1]
        XCTAssertEqual(back.render([cam]).scalars, s.render([[cam]]).rgb.scalars)
    }

    func testReadsOtherPropertyOrdersAndExtras() throws {
        // A viewer-style file: different order, an extra property, degree-1 SH rest, and a face element after.
        let names = ["rot_0", "rot_1", "rot_2", "rot_3", "x", "y", "z", "red", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
                     "scale_0", "scale_1", "scale_2"] + (0..<9).map { "f_rest_\($0)" }
        var text = "ply\nformat binary_little_endian 1.0\ncomment made elsewhere\nelement vertex 2\n"
        for n in names { text += "property float \(n)\n" }
        text += "element face 0\nproperty list uchar int vertex_indices\nend_header\n"
        var data = Data(text.utf8)
        let values: [Float] = (0..<2 * names.count).map { Float($0) }
        values.withUnsafeBufferPointer { data.append(UnsafeBufferPointer(start: UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: UInt8.self), count: $0.count * 4)) }
        let scene = try GaussianPLY.decode(data)
        let row = Float(names.count)
        XCTAssertEqual(scene.quaternions.scalars, [0, 1, 2, 3, row, row + 1, row + 2, row + 3])
        XCTAssertEqual(scene.means.scalars, [4, 5, 6, row + 4, row + 5, row + 6])
        XCTAssertEqual(scene.opacityLogits.scalars, [11, row + 11])
        XCTAssertEqual(scene.shRest?[flat: 8], 23)
        XCTAssertEqual(scene.shRest?[flat: 9], 0)
    }

    func testMalformedFiles() throws {
        let good = "ply\nformat binary_little_endian 1.0\nelement vertex 3\n" + ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
            "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"].map { "property float \($0)\n" }.joined() + "end_header\n"
        func expect(_ data: Data, _ fragment: String, line: UInt = #line) {
            XCTAssertThrowsError(try GaussianPLY.decode(data, source: "x.ply"), line: line) {
                XCTAssertTrue("\($0)".contains(fragment), "\($0)", line: line)
                XCTAssertTrue("\($0)".contains("x.ply"), line: line)
            }
        }
        expect(Data("hello".utf8), "magic")
        expect(Data("ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n".utf8), "binary_little_endian")
        expect(Data("ply\nformat binary_little_endian 1.0\nelement vertex 1\n".utf8), "end_header")
        expect(Data((good + String(repeating: "\0", count: 14 * 4 * 2)).utf8), "short")
        expect(Data(good.replacingOccurrences(of: "property float opacity\n", with: "").utf8 + [UInt8](repeating: 0, count: 13 * 12)), "'opacity'")
        expect(Data(good.replacingOccurrences(of: "property float x\n", with: "property double x\n").utf8), "not a float")
        expect(Data(good.replacingOccurrences(of: "element vertex 3", with: "element vertex lots").utf8), "malformed element")
        XCTAssertThrowsError(try GaussianPLY.read(URL(fileURLWithPath: "/nonexistent/a.ply"))) { XCTAssertTrue("\($0)".contains("/nonexistent/a.ply")) }
    }
}
