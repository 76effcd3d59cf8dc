import Tensors

/// Running PSNR and SSIM per view slot over subjects: what every evaluation of generated or
/// rendered views reports (SSIM with `ssimLoss`'s 11×11 Gaussian window).
public struct ViewScores: Sendable {
    public private(set) var psnr: [Double]
    public private(set) var ssim: [Double]
    /// Subjects added per slot.
    public private(set) var counts: [Int]

    public init(views: Int) {
        psnr = Array(repeating: 0, count: views)
        ssim = psnr
        counts = Array(repeating: 0, count: views)
    }

    public var views: Int { psnr.count }

    /// Adds one subject: `predicted` and `truth` [V, 3, H, W], slot k scored from image k; only
    /// the slots in `slots` (all when nil).
    public mutating func add(_ predicted: Tensor, _ truth: Tensor, slots: [Int]? = nil) {
        check(predicted.shape == truth.shape && predicted.rank == 4 && predicted.shape[0] == views,
              "ViewScores.add: \(predicted.shape) against \(truth.shape), expected [\(views), 3, H, W] both")
        for k in slots ?? Array(0..<views) {
            let (a, b) = (predicted.sliced(axis: 0, range: k..<(k + 1)), truth.sliced(axis: 0, range: k..<(k + 1)))
            psnr[k] += Tensors.psnr(a, b)
            ssim[k] += 1 - Double(ssimLoss(a, b).item)
            counts[k] += 1
        }
    }

    /// Slot k's mean over the subjects added.
    public func mean(_ k: Int) -> (psnr: Double, ssim: Double) {
        let n = Double(max(counts[k], 1))
        return (psnr[k] / n, ssim[k] / n)
    }

    /// The mean of the slots' means.
    public func mean(over slots: [Int]) -> (psnr: Double, ssim: Double) {
        let means = slots.map(mean), n = Double(max(slots.count, 1))
        return (means.map(\.psnr).reduce(0, +) / n, means.map(\.ssim).reduce(0, +) / n)
    }
}
