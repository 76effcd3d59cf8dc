import XCTest
import Layers
import Optimizers
import Reconstruction
import Splatting
import Tensors

final class GSLRMLearningTests: XCTestCase {
    /// A small GS-LRM fitted to one scene seen from 2 input views learns to render 2 other views:
    /// the whole path (posed input, transformer, decoding, rasterizer, SSIM + MSE) trains.
    func testFitsOneScene() {
        var c = GSLRMConfiguration()
        c.width = 32; c.layers = 1; c.heads = 2; c.patchSize = 4; c.resolution = 16
        let model = GSLRM(c)
        let store = ParameterStore(model: model, seed: 1)
        let adam = AdamW(store: store, weightDecay: 0)
        let schedule = LearningRateSchedule.cosine(peak: 3e-3, warmupSteps: 10, totalSteps: 150, floor: 1e-4)
        // Ground truth: a blob of coloured Gaussians around the origin, seen from 4 orbit views.
        var rng = Philox(seed: 2)
        let n = 60
        let truth = GaussianScene(means: Tensor.uniform([n, 3], low: -0.5, high: 0.5, rng: &rng),
                                  quaternions: Tensor.uniform([n, 4], low: -1, high: 1, rng: &rng),
                                  logScales: Tensor.uniform([n, 3], low: -2.5, high: -1.5, rng: &rng),
                                  opacityLogits: Tensor.uniform([n], low: 0, high: 3, rng: &rng),
                                  shDC: Tensor.uniform([n, 3], low: -1.5, high: 1.5, rng: &rng))
        let cameras = [0.0, 90, 180, 270].map { OrbitRig.camera(azimuthDegrees: $0, elevationDegrees: 20, width: 16, height: 16) }
        let images = truth.render(cameras).reshaped([1, 4, 3, 16, 16])
        let inputs = images.sliced(axis: 1, range: 0..<2)
        let loss = ReconstructionLoss(ssimWeight: 0.2)
        let white = Tensor([1, 1, 1], shape: [1, 3])

        func step() -> Double {
            Tape.shared.reset()
            store.zeroGradients()
            let g = model.reconstruct(images: inputs, cameras: [Array(cameras[0..<2])])
            let (l, parts) = loss(g.render([cameras], backgrounds: white).rgb, images)
            Tape.shared.backward(l)
            return parts["mse"]!
        }
        let first = step()
        var last = first
        for i in 0..<150 {
            last = step()
            _ = adam.step(i, schedule: schedule, maxGradientNorm: 1)
        }
        Tape.shared.reset()
        XCTAssertTrue(last.isFinite)
        XCTAssertLessThan(last, first / 3, "MSE \(first) → \(last)")
    }
}
