import XCTest
import Layers
import Reconstruction
import Splatting
import Tensors

final class GSLRMTests: XCTestCase {
    func tinyConfiguration(layers: Int = 1, resolution: Int = 8, patch: Int = 4) -> GSLRMConfiguration {
        var c = GSLRMConfiguration()
        c.width = 16; c.layers = layers; c.heads = 2; c.patchSize = patch; c.resolution = resolution; c.inputViews = 2
        return c
    }

    func randomViews(batch: Int, views: Int, size: Int, seed: UInt64) -> (images: Tensor, cameras: [[Camera]]) {
        var rng = Philox(seed: seed, stream: 1)
        let images = Tensor.uniform([batch, views, 3, size, size], low: 0, high: 1, rng: &rng)
        let cameras = (0..<batch).map { _ in OrbitRig.random(count: views, size: size, rng: &rng) }
        return (images, cameras)
    }

    /// Key names are FaceLift's, so its checkpoints map onto Relief's by name.
    func testParameterNames() {
        let names = GSLRM(tinyConfiguration(layers: 2)).allParameters().map(\.name)
        XCTAssertEqual(names.first, "patch_embedder.1.weight")
        XCTAssertTrue(names.contains("input_layer_norm.weight"))
        XCTAssertFalse(names.contains("input_layer_norm.bias"))
        XCTAssertTrue(names.contains("transformer_layers.1.attn1.to_q.weight"))
        XCTAssertEqual(Array(names.suffix(2)), ["pixel_gaussian_decoder.0.weight", "pixel_gaussian_decoder.1.weight"])
    }

    /// Without transformer layers each patch is decoded from its own token alone, so changing one
    /// input pixel may change exactly the Gaussians of that pixel's patch: this pins patchify and
    /// unpatchify to the same (view, row, column) order.
    func testPatchOrderRoundTrips() {
        let c = tinyConfiguration(layers: 0, resolution: 8, patch: 4)
        let model = GSLRM(c)
        _ = ParameterStore(model: model, seed: 3)
        let (images, cameras) = randomViews(batch: 1, views: 2, size: 8, seed: 4)
        let posed = model.posedInput(images: images, cameras: cameras)
        let base = withoutGradients { model(posed) }
        XCTAssertEqual(base.shape, [1, 2 * 64, 12])
        let changed = posed.copy()
        // view 1, channel 0, row 5, column 2 → patch (row 1, column 0) of view 1.
        changed.storage.base[((1 * 9 + 0) * 8 + 5) * 8 + 2] += 0.5
        let out = withoutGradients { model(changed) }
        for v in 0..<2 {
            for y in 0..<8 {
                for x in 0..<8 {
                    let g = (v * 8 + y) * 8 + x
                    let differs = (0..<12).contains { out[flat: g * 12 + $0] != base[flat: g * 12 + $0] }
                    XCTAssertEqual(differs, v == 1 && y >= 4 && x < 4, "Gaussian of view \(v) pixel (\(x), \(y))")
                }
            }
        }
    }

    /// A Gaussian's centre lies on its pixel's ray: projected through that camera it lands on
    /// the pixel centre, at a distance within the configured band around the camera distance.
    func testGaussiansArePixelAligned() {
        let c = tinyConfiguration()
        var rng = Philox(seed: 9)
        let (_, cameras) = randomViews(batch: 1, views: 2, size: 8, seed: 5)
        let rays = PixelRays(cameras)
        let raw = Tensor.uniform([1, 2 * 64, 12], low: -3, high: 3, rng: &rng)
        let g = PixelGaussians(raw: raw, rays: rays, configuration: c)
        for v in 0..<2 {
            let cam = cameras[0][v], m = cam.worldToCamera
            for p in 0..<64 {
                let j = v * 64 + p
                let x = (0..<3).map { Double(g.means[flat: 3 * j + $0]) }
                let cam3 = (0..<3).map { r in m[r, 0] * x[0] + m[r, 1] * x[1] + m[r, 2] * x[2] + m[r, 3] }
                XCTAssertEqual(cam.fx * cam3[0] / cam3[2] + cam.cx, Double(p % 8) + 0.5, accuracy: 1e-3)
                XCTAssertEqual(cam.fy * cam3[1] / cam3[2] + cam.cy, Double(p / 8) + 0.5, accuracy: 1e-3)
                let distance = (cam3.map { $0 * $0 }.reduce(0, +)).squareRoot()
                XCTAssertLessThanOrEqual(abs(distance - 2.7), Double(c.depthHalfRange) + 1e-3)
            }
        }
        XCTAssertEqual(g.logScales.scalars.max()!, c.maxLogScale, accuracy: 0, "log-scales are clamped at the maximum")
    }

    /// Decoding (ray placement, scale clamp, biases) against finite differences. The rasterizer's
    /// own gradients are checked in SplattingTests.
    func testDecodingGradients() {
        var c = tinyConfiguration()
        c.maxLogScale = -2.3  // half the scales sit above the clamp: their gradient must be zero
        let (_, cameras) = randomViews(batch: 2, views: 2, size: 8, seed: 6)
        let rays = PixelRays(cameras)
        var rng = Philox(seed: 12)
        let raw = Tensor.uniform([2, 128, 12], low: -1, high: 1, rng: &rng)
        let error = maxGradientError(inputs: [raw], epsilon: 1e-3) { xs in
            let g = PixelGaussians(raw: xs[0], rays: rays, configuration: c)
            return concat([g.means, g.shDC, g.logScales, g.quaternions, g.opacityLogits.reshaped([2, 128, 1])], axis: 2)
        }
        XCTAssertLessThan(error, 1e-2)
    }

    /// Compositing on black plus background·(1 − α) equals rendering on the background.
    func testPerSampleBackgroundsMatchTheRasterizer() {
        let c = tinyConfiguration()
        let (_, cameras) = randomViews(batch: 2, views: 2, size: 8, seed: 7)
        var rng = Philox(seed: 13)
        let g = PixelGaussians(raw: Tensor.uniform([2, 128, 12], low: -1, high: 1, rng: &rng), rays: PixelRays(cameras), configuration: c)
        let colours: [SIMD3<Float>] = [[1, 1, 1], [0.2, 0.4, 0.6]]
        let ours = withoutGradients { g.render(cameras, backgrounds: Tensor([1, 1, 1, 0.2, 0.4, 0.6], shape: [2, 3])).rgb }
        for b in 0..<2 {
            let direct = g.scene(sample: b).render(cameras[b], background: colours[b])
            for i in 0..<direct.count { XCTAssertEqual(ours[flat: b * direct.count + i], direct[flat: i], accuracy: 1e-5) }
        }
    }

    func testSceneExportDropsTransparentGaussians() {
        let c = tinyConfiguration()
        let (_, cameras) = randomViews(batch: 1, views: 2, size: 8, seed: 8)
        var rng = Philox(seed: 14)
        let g = PixelGaussians(raw: Tensor.uniform([1, 128, 12], low: -4, high: 4, rng: &rng), rays: PixelRays(cameras), configuration: c)
        let expected = (0..<128).filter { 1 / (1 + exp(-Double(g.opacityLogits[flat: $0]))) >= 0.1 }.count
        XCTAssertGreaterThan(expected, 0)
        XCTAssertLessThan(expected, 128)
        XCTAssertEqual(g.scene(sample: 0, minOpacity: 0.1).count, expected)
        XCTAssertEqual(g.scene(sample: 0).count, 128)
    }

    func testConfigurationRoundTripsThroughJSON() throws {
        var c = tinyConfiguration()
        c.plucker = .directionNearestPoint
        c.depthHalfRange = 1.25
        XCTAssertEqual(try GSLRMConfiguration.fromJSON(c.json()), c)
        XCTAssertTrue(c.json().contains("\"patch_size\":4"))
        XCTAssertNil(c.problem)
        c.width = 17
        XCTAssertEqual(c.problem, "width 17 is not divisible by heads 2")
    }
}
