import Foundation

/// Regression losses reduced by the mean, as PyTorch's `reduction='mean'`: scalar results whose
/// backward reaches the prediction and, when it is tracked, the target. The sums are
/// block-deterministic (`Reduction.total`).

/// mean((prediction − target)²).
public func mseLoss(_ prediction: Tensor, _ target: Tensor) -> Tensor {
    meanLoss(prediction, target, name: "mseLoss", squared: true)
}

/// mean(|prediction − target|); the subgradient at equality is 0.
public func l1Loss(_ prediction: Tensor, _ target: Tensor) -> Tensor {
    meanLoss(prediction, target, name: "l1Loss", squared: false)
}

/// Peak signal-to-noise ratio (dB) of images in [0, 1]: an evaluation metric, no gradient.
public func psnr(_ prediction: Tensor, _ target: Tensor) -> Double {
    check(prediction.count == target.count, "PSNR of \(prediction.shape) against \(target.shape)")
    var se = 0.0
    for i in 0..<prediction.count { let d = Double(prediction[flat: i] - target[flat: i]); se += d * d }
    let mse = se / Double(max(prediction.count, 1))
    return mse > 0 ? 10 * log10(1 / mse) : 99
}

/// PSNR (dB) of the colour alone, for RGB images [..., 3, H, W]: each pixel's channels minus
/// their mean, so shape and shading cancel and a reconstruction that greys out a coloured
/// region scores low even where its plain PSNR (dominated by white backgrounds) is high.
public func chromaPSNR(_ prediction: Tensor, _ target: Tensor) -> Double {
    check(prediction.shape == target.shape, "chroma PSNR of \(prediction.shape) against \(target.shape)")
    return withoutGradients { psnr(chroma(prediction), chroma(target)) }
}

/// The colour of RGB images [..., 3, H, W]: each pixel's channels minus their mean (the grey
/// level), differentiable, so a loss can weigh colour apart from luminance.
public func chroma(_ image: Tensor) -> Tensor {
    check(image.rank >= 3 && image.shape[image.rank - 3] == 3, "chroma needs RGB images [..., 3, H, W], got \(image.shape)")
    return image - image.mean(axes: [image.rank - 3], keepDims: true)
}

func meanLoss(_ p: Tensor, _ t: Tensor, name: String, squared: Bool) -> Tensor {
    check(p.shape == t.shape, "\(name): prediction \(p.shape) and target \(t.shape) differ")
    let n = p.count
    let (pp, tp) = (p.storage.base, t.storage.base)
    let total = Reduction.total(n) { r in
        var acc = FloatVector()
        var i = r.lowerBound
        while i < r.upperBound {
            let k = Swift.min(VectorMath.width, r.upperBound - i)
            let d = VectorMath.load(pp + i, count: k) - VectorMath.load(tp + i, count: k)
            acc += squared ? d * d : VectorMath.abs(d)
            i += k
        }
        return Double(acc.sum())
    }
    let out = Tensor(scalar: n == 0 ? .nan : Float(total / Double(n)))
    return out.recorded(p, t) { g in
        let gp = Tape.shared.gradientBuffer(p.gradSlot), gt = Tape.shared.gradientBuffer(t.gradSlot)
        let scale = g[0] / Float(n) * (squared ? 2 : 1)
        Parallel.forRanges(n) { r in
            for i in r {
                let d = pp[i] - tp[i]
                let v = squared ? scale * d : (d > 0 ? scale : (d < 0 ? -scale : 0))
                gp?[i] += v
                gt?[i] -= v
            }
        }
    }
}
