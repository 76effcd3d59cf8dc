import XCTest
import Splatting
import Tensors

/// Degenerate inputs must give finite images and finite gradients.
final class RobustnessTests: XCTestCase {
    let camera = OrbitRig.camera(azimuthDegrees: 0, elevationDegrees: 0, width: 32, height: 32)

    func renderFinite(_ scene: TestScene, file: StaticString = #filePath, line: UInt = #line) -> (Tensor, [Tensor]) {
        let cams = [[camera, OrbitRig.camera(azimuthDegrees: 90, elevationDegrees: 20, width: 32, height: 32)]]
        let r = gradients(of: scene.inputs) { xs in
            let img = GaussianRasterizer.render(means: xs[0], quaternions: xs[1], logScales: xs[2], opacityLogits: xs[3],
                                                shDC: xs[4], cameras: cams, withDepth: true).packed
            return weightedSum(img)
        }
        let img = scene.render(cams, depth: true).packed
        XCTAssertTrue(img.scalars.allSatisfy(\.isFinite), "image not finite", file: file, line: line)
        for (k, g) in r.gradients.enumerated() {
            XCTAssertTrue(g.scalars.allSatisfy(\.isFinite), "gradient \(k) not finite", file: file, line: line)
        }
        return (img, r.gradients)
    }

    /// The front camera sits at (0, −2.7, 0) looking along +y.
    func scene(means: [SIMD3<Float>], logScale: Float = -2, logit: Float = 1, quaternion: [Float] = [1, 0.2, 0.1, 0]) -> TestScene {
        let n = means.count
        return TestScene(means: Tensor(means.flatMap { [$0.x, $0.y, $0.z] }, shape: [1, n, 3]),
                         quaternions: Tensor((0..<n).flatMap { _ in quaternion }, shape: [1, n, 4]),
                         logScales: Tensor(repeating: logScale, shape: [1, n, 3]),
                         opacityLogits: Tensor(repeating: logit, shape: [1, n]),
                         shDC: Tensor(repeating: 0.5, shape: [1, n, 3]))
    }

    func testBehindCameraIsCulled() {
        let (img, grads) = renderFinite(scene(means: [[0, -3.5, 0], [0, -2.695, 0]]))
        // Front view shows only background.
        XCTAssertEqual(img[flat: 16 * 32 + 16], 1, accuracy: 1e-6)
        XCTAssertEqual(grads[0][flat: 1], 0)
    }

    func testStraddlingNearPlane() {
        _ = renderFinite(scene(means: [[0, -2.69, 0], [0.01, -2.689, 0.01]], logScale: -1))
    }

    func testDegenerateAndHugeCovariances() {
        _ = renderFinite(scene(means: [[0, 0, 0], [0.1, 0, 0]], logScale: -60))
        _ = renderFinite(scene(means: [[0, 0, 0], [0.1, 0, 0]], logScale: 25))
        _ = renderFinite(scene(means: [[0, 0, 0], [0.1, 0, 0]], logScale: 80))
        let flat = scene(means: [[0, 0, 0]], logScale: -2)
        flat.logScales.storage.base[1] = -40  // a disc
        _ = renderFinite(flat)
    }

    func testZeroQuaternion() {
        let (_, grads) = renderFinite(scene(means: [[0, 0, 0]], quaternion: [0, 0, 0, 0]))
        XCTAssertEqual(grads[1].scalars, [0, 0, 0, 0])
        // Zero quaternion renders like the identity.
        let a = scene(means: [[0, 0, 0]], quaternion: [0, 0, 0, 0]).render([[camera]]).rgb.scalars
        let b = scene(means: [[0, 0, 0]], quaternion: [1, 0, 0, 0]).render([[camera]]).rgb.scalars
        XCTAssertEqual(a, b)
    }

    func testOpacityNearOne() {
        let (img, _) = renderFinite(scene(means: (0..<20).map { [0, Float($0) * 0.01, 0] }, logScale: -1.5, logit: 30))
        // Many opaque layers: transmittance stops at the 1e-4 floor.
        XCTAssertGreaterThan(img[flat: 3 * 1024 + 16 * 32 + 16], 0.999)
    }

    func testEmptyAndOffScreenScenes() {
        let empty = TestScene(means: Tensor(zeros: [1, 0, 3]), quaternions: Tensor(zeros: [1, 0, 4]),
                              logScales: Tensor(zeros: [1, 0, 3]), opacityLogits: Tensor(zeros: [1, 0]), shDC: Tensor(zeros: [1, 0, 3]))
        let img = empty.render([[camera]], background: [0.1, 0.2, 0.3]).rgb
        XCTAssertEqual(img[flat: 0], 0.1, accuracy: 1e-7)
        XCTAssertEqual(img[flat: 2 * 1024 + 500], 0.3, accuracy: 1e-7)
        let (off, grads) = renderFinite(scene(means: [[40, 0, 0], [0, 0, -50]], logScale: -3))
        XCTAssertEqual(off[flat: 100], 1, accuracy: 1e-6)
        XCTAssertTrue(grads[0].scalars.allSatisfy { $0 == 0 })
    }
}
