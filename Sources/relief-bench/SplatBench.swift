import ArgumentParser
import Foundation
import Splatting
import Tensors

/// The rasterizer's two budgets: a large scene (100k Gaussians at 256²) and the reconstructor's
/// training step shape (pixel-aligned Gaussians from 4 views of 64², rendered into 8 views, batch 2).
struct SplatBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "splat",
                                                    abstract: "Gaussian rasterizer forward + backward time and throughput.")

    @Option(help: "Repetitions (best is reported).") var repeats = 5
    @Option(help: "Threads (default: all cores).") var threads: Int?

    func run() {
        if let threads { Parallel.threads = threads }
        print("threads \(Parallel.threads)")
        var rng = Philox(seed: 1)
        let big = Self.volumeScene(count: 100_000, rng: &rng)
        measure("100k Gaussians, 1 view 256×256", big, cameras: [[OrbitRig.camera(azimuthDegrees: 20, elevationDegrees: 10,
                                                                                   width: 256, height: 256)]])
        let views = OrbitRig.reconstruction(size: 64, count: 8)
        let surface = Self.pixelAlignedScene(batch: 2, size: 64, onSurface: true, rng: &rng)
        measure("16,384 pixel-aligned Gaussians on a head-sized surface × batch 2, 8 views 64×64", surface, cameras: [views, views])
        let cloud = Self.pixelAlignedScene(batch: 2, size: 64, onSurface: false, rng: &rng)
        measure("16,384 pixel-aligned Gaussians at random depths (worst case) × batch 2, 8 views 64×64", cloud, cameras: [views, views])
    }

    func measure(_ name: String, _ s: [Tensor], cameras: [[Camera]]) {
        var best = (total: Double.infinity, fwd: 0.0, bwd: 0.0, timings: SplatTimings())
        let tape = Tape.shared
        for _ in 0..<repeats {
            tape.reset()
            let xs = s.map { $0.requiringGradient() }
            let start = Clock.now
            let out = GaussianRasterizer.render(means: xs[0], quaternions: xs[1], logScales: xs[2], opacityLogits: xs[3],
                                                shDC: xs[4], cameras: cameras)
            let fwd = Clock.seconds(since: start)
            let mid = Clock.now
            tape.backward(out.packed, seed: Tensor(repeating: 0.01, shape: out.packed.shape))
            let bwd = Clock.seconds(since: mid)
            if fwd + bwd < best.total { best = (fwd + bwd, fwd, bwd, GaussianRasterizer.lastTimings) }
        }
        tape.reset()
        let b = s[0].shape[0], n = s[0].shape[1], v = cameras[0].count
        let pixels = Double(cameras[0][0].width * cameras[0][0].height)
        let work = Double(b * n * v) * pixels
        let t = best.timings
        print("\(name): forward+backward \(String(format: "%.1f", best.total * 1e3)) ms "
              + "(forward \(String(format: "%.1f", best.fwd * 1e3)), backward \(String(format: "%.1f", best.bwd * 1e3)))")
        print(String(format: "  projection %.1f ms, binning+sort %.1f ms, rasterize forward %.1f ms, backward %.1f ms; %d tile instances",
                     t.projection * 1e3, t.binning * 1e3, t.forward * 1e3, t.backward * 1e3, t.instances))
        print(String(format: "  %.3g Gaussian·pixels/s", work / best.total))
    }

    /// Gaussians filling a ball of radius 0.6 (a head-sized volume), 0.4–3 px at 256².
    static func volumeScene(count: Int, rng: inout Philox) -> [Tensor] {
        let means = Tensor(uninitializedShape: [1, count, 3])
        for i in 0..<count {
            var p: SIMD3<Float>
            repeat { p = SIMD3(rng.uniform(), rng.uniform(), rng.uniform()) * 2 - 1 } while (p * p).sum() > 1
            for k in 0..<3 { means.storage.base[3 * i + k] = 0.6 * p[k] }
        }
        return [means, Tensor.normal([1, count, 4], rng: &rng), Tensor.uniform([1, count, 3], low: -5.5, high: -3.5, rng: &rng),
                Tensor.normal([1, count], mean: 0, std: 2, rng: &rng), Tensor.normal([1, count, 3], rng: &rng)]
    }

    /// One Gaussian per pixel of 4 orbit views (size²), about one pixel wide — the reconstructor's
    /// output layout. `onSurface`: where the pixel's ray meets a sphere of radius 0.55 (a head),
    /// opaque there and transparent elsewhere (background pixels, opacity below 1/255), as a trained model
    /// outputs; otherwise at a random depth around the origin with random opacity (an untrained
    /// model: a volumetric cloud, many more Gaussians per pixel).
    static func pixelAlignedScene(batch: Int, size: Int, onSurface: Bool, rng: inout Philox) -> [Tensor] {
        let views = [0.0, 90, 180, 270].map { OrbitRig.camera(azimuthDegrees: $0, elevationDegrees: 0, width: size, height: size) }
        let n = views.count * size * size
        let rays = PluckerRays.map(views, layout: .directionNearestPoint)  // [4, 6, H, W]: d, nearest point
        let means = Tensor(uninitializedShape: [batch, n, 3])
        let opacity = Tensor.normal([batch, n], mean: 0, std: 2, rng: &rng)
        let plane = size * size
        for b in 0..<batch {
            for (v, cam) in views.enumerated() {
                let o = cam.center
                for p in 0..<plane {
                    var t = 2.7 + Double(rng.uniform() - 0.5) * 0.8
                    if onSurface {
                        // |o + t d| = 0.55 with |d| = 1: t = −o·d − √((o·d)² − |o|² + 0.55²).
                        let od = (0..<3).reduce(0.0) { $0 + o[$1] * Double(rays[flat: (v * 6 + $1) * plane + p]) }
                        let disc = od * od - (o * o).sum() + 0.55 * 0.55
                        t = disc > 0 ? -od - disc.squareRoot() : 2.7
                        opacity.storage.base[b * n + v * plane + p] = disc > 0 ? 2 + rng.normal() : -7
                    }
                    for k in 0..<3 {
                        let d = Double(rays[flat: (v * 6 + k) * plane + p])
                        means.storage.base[(b * n + v * plane + p) * 3 + k] = Float(o[k] + t * d)
                    }
                }
            }
        }
        let pixel = Float(log(2.7 / views[0].fx))
        return [means, Tensor.normal([batch, n, 4], rng: &rng),
                Tensor.uniform([batch, n, 3], low: pixel - 0.5, high: pixel + 0.5, rng: &rng),
                opacity, Tensor.normal([batch, n, 3], rng: &rng)]
    }
}
