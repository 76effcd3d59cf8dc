import Datasets
import Foundation
import XCTest
import Splatting
import Tensors

final class CameraTests: XCTestCase {
    /// Projects a world point with the camera (pixel coordinates, continuous).
    func project(_ c: Camera, _ p: SIMD3<Double>) -> SIMD3<Double> {
        let m = c.worldToCamera
        let x = m[0, 0] * p.x + m[0, 1] * p.y + m[0, 2] * p.z + m[0, 3]
        let y = m[1, 0] * p.x + m[1, 1] * p.y + m[1, 2] * p.z + m[1, 3]
        let z = m[2, 0] * p.x + m[2, 1] * p.y + m[2, 2] * p.z + m[2, 3]
        return [c.fx * x / z + c.cx, c.fy * y / z + c.cy, z]
    }

    func testOrbitRigs() {
        let diffusion = OrbitRig.diffusion(size: 256)
        XCTAssertEqual(diffusion.count, 6)
        let recon = OrbitRig.reconstruction(size: 128)
        XCTAssertEqual(recon.count, 32)
        for c in diffusion + recon {
            XCTAssertEqual((c.center * c.center).sum().squareRoot(), 2.7, accuracy: 1e-9)
            // The origin projects to the image centre; world up points up in the image.
            let o = project(c, .zero), up = project(c, [0, 0, 0.1])
            XCTAssertEqual(o.x, Double(c.width) / 2, accuracy: 1e-9)
            XCTAssertEqual(o.y, Double(c.height) / 2, accuracy: 1e-9)
            XCTAssertLessThan(up.y, o.y)
            XCTAssertEqual(o.z, 2.7, accuracy: 1e-9)
            // 50° horizontal field of view.
            XCTAssertEqual(2 * atan(Double(c.width) / 2 / c.fx) * 180 / .pi, 50, accuracy: 1e-9)
        }
        XCTAssertEqual(diffusion[0].center.y, -2.7, accuracy: 1e-12)            // front
        XCTAssertEqual(diffusion[2].center.x, 2.7, accuracy: 1e-12)             // 90°
        XCTAssertEqual(recon[1].center.z, 2.7 * sin(20 * Double.pi / 180), accuracy: 1e-12)
        let a1 = atan2(recon[1].center.x, -recon[1].center.y) * 180 / .pi
        XCTAssertEqual(a1, 11.25, accuracy: 1e-9)
        // A rig scales with the image: same view, intrinsics proportional.
        let small = OrbitRig.diffusion(size: 64)[3], big = OrbitRig.diffusion(size: 256)[3]
        XCTAssertEqual(big.fx, small.fx * 4, accuracy: 1e-9)
        XCTAssertEqual(small.resized(width: 256, height: 256), big)
        var rng = Philox(seed: 3)
        let random = OrbitRig.random(count: 10, size: 32, rng: &rng)
        XCTAssertEqual(Set(random.map { $0.center.x }).count, 10)
    }

    /// The convention the synthesized data was rendered with (azimuth 0 in front of a face looking
    /// toward −y, azimuth growing counter-clockwise seen from above), pinned by explicit matrices.
    func testOrbitConventionMatchesExplicitMatrices() {
        func assertW2C(_ c: Camera, _ expected: [Double], _ label: String) {
            for k in 0..<16 { XCTAssertEqual(c.worldToCamera.elements[k], expected[k], accuracy: 1e-12, "\(label) [\(k)]") }
        }
        let r = 2.7
        // Front: right = +x, down = −z, forward = +y; the camera sits at (0, −r, 0).
        assertW2C(OrbitRig.camera(azimuthDegrees: 0, elevationDegrees: 0, width: 64, height: 64),
                  [1, 0, 0, 0, 0, 0, -1, 0, 0, 1, 0, r, 0, 0, 0, 1], "azimuth 0")
        // 90°: at (+r, 0, 0) looking along −x; image right is world +y.
        assertW2C(OrbitRig.camera(azimuthDegrees: 90, elevationDegrees: 0, width: 64, height: 64),
                  [0, 1, 0, 0, 0, 0, -1, 0, -1, 0, 0, r, 0, 0, 0, 1], "azimuth 90")
        // 270°: at (−r, 0, 0) looking along +x.
        assertW2C(OrbitRig.camera(azimuthDegrees: 270, elevationDegrees: 0, width: 64, height: 64),
                  [0, -1, 0, 0, 0, 0, -1, 0, 1, 0, 0, r, 0, 0, 0, 1], "azimuth 270")
        // 45° at 20° elevation: forward = −(sin a cos e, −cos a cos e, sin e).
        let a = 45 * Double.pi / 180, e = 20 * Double.pi / 180
        let f = SIMD3(-sin(a) * cos(e), cos(a) * cos(e), -sin(e)), right = SIMD3(cos(a), sin(a), 0)
        let down = SIMD3(f.y * right.z - f.z * right.y, f.z * right.x - f.x * right.z, f.x * right.y - f.y * right.x)
        assertW2C(OrbitRig.camera(azimuthDegrees: 45, elevationDegrees: 20, width: 64, height: 64),
                  [right.x, right.y, right.z, 0, down.x, down.y, down.z, 0, f.x, f.y, f.z, r, 0, 0, 0, 1], "azimuth 45, elevation 20")
        // The subject's left (+x) appears on the right of the front image.
        let front = OrbitRig.camera(azimuthDegrees: 0, elevationDegrees: 0, width: 64, height: 64)
        XCTAssertGreaterThan(project(front, [0.3, 0, 0]).x, 32)
    }

    func testRigPresets() {
        XCTAssertEqual(OrbitRig.Preset.diffusion.viewAngles.map(\.azimuthDegrees), [0, 45, 90, 180, 270, 315])
        XCTAssertEqual(Set(OrbitRig.Preset.diffusion.viewAngles.map(\.elevationDegrees)), [0])
        XCTAssertEqual(OrbitRig.Preset.reconstructor.viewCount, 32)
        XCTAssertEqual(OrbitRig.Preset.reconstructor.viewAngles[1].azimuthDegrees, 11.25)
        XCTAssertEqual(Set(OrbitRig.Preset.reconstructor.viewAngles.map(\.elevationDegrees)), [20])
        XCTAssertEqual(OrbitRig.Preset.diffusion.cameras(size: 96), OrbitRig.diffusion(size: 96))
        XCTAssertEqual(OrbitRig.Preset.reconstructor.cameras(size: 64), OrbitRig.reconstruction(size: 64))
        XCTAssertEqual(OrbitRig.Preset(rawValue: "reconstructor"), .reconstructor)
    }

    /// Cameras go through Datasets' `opencv_cameras.json` bit for bit.
    func testCameraFileRoundTrip() throws {
        var rng = Philox(seed: 11)
        let cameras = OrbitRig.diffusion(size: 512) + OrbitRig.random(count: 5, size: 96, rng: &rng).map { $0.resized(width: 96, height: 71) }
        let file = CameraFile(id: "subject_7", cameras: cameras)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("relief-cams-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try file.write(path)
        let back = try CameraFile.read(path)
        XCTAssertEqual(back, file)
        XCTAssertEqual(back.cameras, cameras)
        XCTAssertEqual(back.frames[2].filePath, "images/cam_002.png")
        XCTAssertEqual(Camera(cameras[3].frame(filePath: "x.png")), cameras[3])
    }

    func testPluckerRays() {
        let cams = OrbitRig.diffusion(size: 8)
        let moment = PluckerRays.map(cams), nearest = PluckerRays.map(cams, layout: .directionNearestPoint)
        XCTAssertEqual(moment.shape, [6, 6, 8, 8])
        let batched = PluckerRays.map([cams, cams])
        XCTAssertEqual(batched.shape, [2, 6, 6, 8, 8])
        XCTAssertEqual(Array(batched.scalars[moment.count...]), moment.scalars)
        let plane = 64
        for v in 0..<6 {
            let o = cams[v].center
            for p in 0..<plane {
                func vec(_ t: Tensor, _ c0: Int) -> SIMD3<Double> {
                    SIMD3((0..<3).map { Double(t[flat: (v * 6 + c0 + $0) * plane + p]) })
                }
                let d = vec(moment, 3), m = vec(moment, 0), d2 = vec(nearest, 0), q = vec(nearest, 3)
                XCTAssertEqual((d * d).sum(), 1, accuracy: 1e-6)
                XCTAssertEqual(d, d2)
                let expected = SIMD3(o.y * d.z - o.z * d.y, o.z * d.x - o.x * d.z, o.x * d.y - o.y * d.x)
                XCTAssertLessThan(maxAbs(m - expected), 1e-5)
                // Nearest point: on the ray and perpendicular to it.
                XCTAssertEqual((q * d).sum(), 0, accuracy: 1e-5)
                let along = q - o, cr = SIMD3(along.y * d.z - along.z * d.y, along.z * d.x - along.x * d.z, along.x * d.y - along.y * d.x)
                XCTAssertLessThan(maxAbs(cr), 1e-5)
            }
            // The ray through pixel (u, v) projects back to its centre (u + 0.5, v + 0.5).
            let p = 3 * 8 + 5
            let d = SIMD3((0..<3).map { Double(moment[flat: (v * 6 + 3 + $0) * plane + p]) })
            let hit = project(cams[v], o + 2 * d)
            XCTAssertEqual(hit.x, 5.5, accuracy: 1e-4)
            XCTAssertEqual(hit.y, 3.5, accuracy: 1e-4)
        }
    }
}

func maxAbs(_ v: SIMD3<Double>) -> Double { max(abs(v.x), abs(v.y), abs(v.z)) }
