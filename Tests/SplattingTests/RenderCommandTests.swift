import Datasets
import Foundation
import Splatting
import Tensors
import TestSupport
import XCTest

/// `relief-infer render` as a user runs it: a 3DGS PLY and FaceLift cameras in, PNGs out.
final class RenderCommandTests: XCTestCase {
    func testRendersOnePNGPerFrameNamedAfterItsFile() throws {
        let program = try Programs.requireBuilt("relief-infer")
        let folder = NSTemporaryDirectory() + "render-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // A red ball of Gaussians at the origin, seen by the 6-view diffusion rig at 48×48.
        var rng = Philox(seed: 3)
        let n = 400
        let means = Tensor.normal([n, 3], std: 0.2, rng: &rng)
        let quaternions = Tensor(Array(repeating: [1, 0, 0, 0], count: n).flatMap { $0 }, shape: [n, 4])
        let scene = GaussianScene(means: means, quaternions: quaternions, logScales: Tensor(repeating: -2.5, shape: [n, 3]),
                                  opacityLogits: Tensor(repeating: 4, shape: [n, 1]),
                                  shDC: Tensor(Array(repeating: [1.7, -1.7, -1.7], count: n).flatMap { $0 }, shape: [n, 3]))
        try GaussianPLY.write(scene, to: URL(fileURLWithPath: folder + "/scene.ply"))
        try CameraFile(id: "ball", cameras: OrbitRig.diffusion(size: 48)).write(folder + "/cameras.json")

        let (status, output) = try Programs.run(program, ["render", "--ply", folder + "/scene.ply", "--cameras", folder + "/cameras.json",
                                                          "--out", folder + "/out", "--background", "black"])
        XCTAssertEqual(status, 0, output)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder + "/out").sorted()
        XCTAssertEqual(names, (0..<6).map { String(format: "cam_%03d.png", $0) })
        for name in names {
            let (pixels, w, h, c) = try PNG.read8(folder + "/out/" + name)
            XCTAssertEqual([w, h, c], [48, 48, 3])
            let centre = (24 * w + 24) * 3, corner = 0
            XCTAssertGreaterThan(pixels[centre], 150, "\(name): the ball is red in the middle")
            XCTAssertLessThan(pixels[centre + 1], 60)
            XCTAssertEqual(pixels[corner], 0, "\(name): black background in the corner")
        }

        let (bad, message) = try Programs.run(program, ["render", "--ply", folder + "/cameras.json", "--cameras", folder + "/cameras.json",
                                                        "--out", folder + "/out2"])
        XCTAssertNotEqual(bad, 0)
        XCTAssertTrue(message.contains("cameras.json"), message)
    }
}
