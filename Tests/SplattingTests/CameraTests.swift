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

    func testCameraFileRoundTrip() throws {
        let file = CameraFile(id: "subject_7", cameras: OrbitRig.diffusion(size: 512))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("relief-cams-\(UUID()).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try file.write(url)
        let back = try CameraFile.read(url)
        // Foundation's JSON writer may round the last digit of a Double.
        XCTAssertEqual(back.id, file.id)
        XCTAssertEqual(back.frames.map(\.filePath), file.frames.map(\.filePath))
        for (a, b) in zip(back.cameras, file.cameras) {
            XCTAssertEqual(a.width, b.width); XCTAssertEqual(a.height, b.height)
            XCTAssertEqual(a.fx, b.fx, accuracy: 1e-12); XCTAssertEqual(a.cy, b.cy, accuracy: 1e-12)
            for k in 0..<16 { XCTAssertEqual(a.worldToCamera.elements[k], b.worldToCamera.elements[k], accuracy: 1e-12) }
        }
        XCTAssertEqual(back.frames[2].filePath, "images/cam_002.png")
        // FaceLift's own key layout.
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let frame = (json["frames"] as! [[String: Any]])[0]
        XCTAssertEqual(Set(frame.keys), ["w", "h", "fx", "fy", "cx", "cy", "w2c", "file_path"])
        XCTAssertEqual((frame["w2c"] as! [[Double]]).count, 4)
    }

    func testCameraFileErrors() {
        XCTAssertThrowsError(try CameraFile.decode(Data("[1]".utf8))) { XCTAssertTrue("\($0)".contains("not a JSON object")) }
        XCTAssertThrowsError(try CameraFile.decode(Data(#"{"id": 1}"#.utf8))) { XCTAssertTrue("\($0)".contains("frames")) }
        let bad = #"{"id": "a", "frames": [{"w": 4, "h": 4, "fx": 1, "fy": 1, "cx": 2, "cy": 2, "w2c": [[1,0,0]]}]}"#
        XCTAssertThrowsError(try CameraFile.decode(Data(bad.utf8))) { XCTAssertTrue("\($0)".contains("frames[0] \"w2c\"")) }
        let missing = #"{"id": "a", "frames": [{"w": 4, "h": 4, "fy": 1, "cx": 2, "cy": 2}]}"#
        XCTAssertThrowsError(try CameraFile.decode(Data(missing.utf8))) { XCTAssertTrue("\($0)".contains("\"fx\"")) }
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
