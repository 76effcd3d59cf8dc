import Foundation
import Splatting
import Tensors

/// Random Gaussian scenes around the origin and a brute-force renderer to check against.
struct TestScene {
    var means: Tensor, quaternions: Tensor, logScales: Tensor, opacityLogits: Tensor, shDC: Tensor
    var inputs: [Tensor] { [means, quaternions, logScales, opacityLogits, shDC] }

    static func random(batch: Int = 1, count: Int, seed: UInt64, extent: Float = 0.6,
                       logScale: ClosedRange<Float> = -3.5 ... -1.5, logit: ClosedRange<Float> = -2...3) -> TestScene {
        var rng = Philox(seed: seed)
        return TestScene(
            means: Tensor.uniform([batch, count, 3], low: -extent, high: extent, rng: &rng),
            quaternions: Tensor.normal([batch, count, 4], rng: &rng),
            logScales: Tensor.uniform([batch, count, 3], low: logScale.lowerBound, high: logScale.upperBound, rng: &rng),
            opacityLogits: Tensor.uniform([batch, count], low: logit.lowerBound, high: logit.upperBound, rng: &rng),
            shDC: Tensor.uniform([batch, count, 3], low: -1.5, high: 1.5, rng: &rng))
    }

    func render(_ cameras: [[Camera]], background: SIMD3<Float> = [1, 1, 1], depth: Bool = false) -> SplatImages {
        GaussianRasterizer.render(means: means, quaternions: quaternions, logScales: logScales,
                                  opacityLogits: opacityLogits, shDC: shDC, cameras: cameras,
                                  background: background, withDepth: depth)
    }
}

/// Per pixel, every Gaussian in depth order with the same α rules, no tiles, no boxes, in Double.
/// Returns [C, H, W] with channels r, g, b, alpha, expected depth, and per pixel whether some
/// Gaussian's α there is within a factor 2 of the 1/255 cut (where the image is discontinuous).
func bruteForceRender(_ s: TestScene, sample b: Int, camera: Camera, background: SIMD3<Double>) -> [Double] {
    bruteForceRenderWithCuts(s, sample: b, camera: camera, background: background).image
}

func bruteForceRenderWithCuts(_ s: TestScene, sample b: Int, camera: Camera, background: SIMD3<Double>) -> (image: [Double], nearCut: [Bool]) {
    let n = s.means.shape[1]
    struct Splat { var depth: Double; var index: Int; var mx, my, a, bb, c, o: Double; var color: SIMD3<Double> }
    var splats: [Splat] = []
    let m = camera.worldToCamera
    for i in 0..<n {
        let j = b * n + i
        func f(_ t: Tensor, _ k: Int, _ w: Int) -> Double { Double(t[flat: j * w + k]) }
        let p = SIMD3(f(s.means, 0, 3), f(s.means, 1, 3), f(s.means, 2, 3))
        var q = SIMD4(f(s.quaternions, 0, 4), f(s.quaternions, 1, 4), f(s.quaternions, 2, 4), f(s.quaternions, 3, 4))
        let qn = (q * q).sum().squareRoot()
        q = qn > 1e-12 ? q / qn : [1, 0, 0, 0]
        let (w, x, y, z) = (q[0], q[1], q[2], q[3])
        let R = [[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                 [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                 [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]]
        let sc = (0..<3).map { exp(min(max(f(s.logScales, $0, 3), -30), 30)) }
        var sigma = [[Double]](repeating: [0, 0, 0], count: 3)
        for r in 0..<3 { for c in 0..<3 { for k in 0..<3 { sigma[r][c] += R[r][k] * sc[k] * sc[k] * R[c][k] } } }
        let W = (0..<3).map { r in (0..<3).map { m[r, $0] } }
        let t = (0..<3).map { r in W[r][0] * p.x + W[r][1] * p.y + W[r][2] * p.z + m[r, 3] }
        if t[2] < 0.01 { continue }
        var cc = [[Double]](repeating: [0, 0, 0], count: 3)
        for r in 0..<3 { for c in 0..<3 { for k in 0..<3 { for l in 0..<3 { cc[r][c] += W[r][k] * sigma[k][l] * W[c][l] } } } }
        let tanX = 0.5 * Double(camera.width) / camera.fx, tanY = 0.5 * Double(camera.height) / camera.fy
        let u = min(max(t[0] / t[2], -(camera.cx / camera.fx + 0.3 * tanX)), (Double(camera.width) - camera.cx) / camera.fx + 0.3 * tanX)
        let v = min(max(t[1] / t[2], -(camera.cy / camera.fy + 0.3 * tanY)), (Double(camera.height) - camera.cy) / camera.fy + 0.3 * tanY)
        let J = [[camera.fx / t[2], 0, -camera.fx * u / t[2]], [0, camera.fy / t[2], -camera.fy * v / t[2]]]
        var cov = [[0.3, 0.0], [0.0, 0.3]]
        for r in 0..<2 { for c in 0..<2 { for k in 0..<3 { for l in 0..<3 { cov[r][c] += J[r][k] * cc[k][l] * J[c][l] } } } }
        let det = cov[0][0] * cov[1][1] - cov[0][1] * cov[0][1]
        if !(det > 0) { continue }
        let logit = Double(s.opacityLogits[flat: j])
        let color = SIMD3((0..<3).map { max(0, 0.28209479177387814 * f(s.shDC, $0, 3) + 0.5) })
        splats.append(Splat(depth: t[2], index: i, mx: camera.fx * t[0] / t[2] + camera.cx, my: camera.fy * t[1] / t[2] + camera.cy,
                            a: cov[1][1] / det, bb: -cov[0][1] / det, c: cov[0][0] / det, o: 1 / (1 + exp(-logit)), color: color))
    }
    splats.sort { ($0.depth, $0.index) < ($1.depth, $1.index) }
    let (wd, ht) = (camera.width, camera.height)
    var out = [Double](repeating: 0, count: 5 * wd * ht)
    var nearCut = [Bool](repeating: false, count: wd * ht)
    for py in 0..<ht {
        for px in 0..<wd {
            var T = 1.0, c = SIMD3<Double>.zero, d = 0.0
            for g in splats {
                let dx = Double(px) + 0.5 - g.mx, dy = Double(py) + 0.5 - g.my
                let sg = 0.5 * (g.a * dx * dx + g.c * dy * dy) + g.bb * dx * dy
                let alpha = min(0.99, g.o * exp(-sg))
                if abs(log(g.o * exp(-sg) * 255)) < log(2.0) { nearCut[py * wd + px] = true }
                if sg < 0 || alpha < 1.0 / 255 { continue }
                let next = T * (1 - alpha)
                if next <= 1e-4 { break }
                c += g.color * alpha * T
                d += g.depth * alpha * T
                T = next
            }
            let pix = py * wd + px
            for k in 0..<3 { out[k * wd * ht + pix] = c[k] + T * background[k] }
            out[3 * wd * ht + pix] = 1 - T
            out[4 * wd * ht + pix] = d / max(1 - T, 1e-10)
        }
    }
    return (out, nearCut)
}

/// Multiplies each [B, V, C, H, W] image by a per-pixel 0/1 mask (a test-only recorded op).
func masked(_ x: Tensor, _ mask: [Float]) -> Tensor {
    let plane = x.shape[3] * x.shape[4], c = x.shape[2]
    var out = x.detached.copy()
    out.withUnsafeMutableBufferPointer { o in
        for i in 0..<x.count { o[i] *= mask[(i / (c * plane)) * plane + i % plane] }
    }
    return out.recorded(x) { g in
        guard let gx = Tape.shared.gradientBuffer(x.gradSlot) else { return }
        for i in 0..<x.count { gx[i] += g[i] * mask[(i / (c * plane)) * plane + i % plane] }
    }
}

/// 0 on pixels next to the 1/255 cut of any Gaussian (in any image of the batch), else 1: there
/// the rendered function jumps, and finite differences would measure the jump.
func smoothPixelMask(_ s: TestScene, cameras: [[Camera]]) -> [Float] {
    var mask: [Float] = []
    for (b, views) in cameras.enumerated() {
        for cam in views {
            mask += bruteForceRenderWithCuts(s, sample: b, camera: cam, background: .zero).nearCut.map { $0 ? 0 : 1 }
        }
    }
    return mask
}
