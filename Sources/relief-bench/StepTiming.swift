import Foundation
import Tensors

/// The middle value (the upper one of an even count): what the benches report beside the best.
func median(_ x: [Double]) -> Double { x.sorted()[x.count / 2] }

/// Runs one warm-up and `iterations` timed steps; returns the best forward and backward seconds.
func timeSteps(_ iterations: Int, forward: () -> Tensor, backward: (Tensor) -> Void) -> (Double, Double) {
    let steps = stepTimes(iterations, forward: forward, backward: backward)
    return (steps.map(\.forward).min() ?? .infinity, steps.map(\.backward).min() ?? .infinity)
}

/// Runs one warm-up and `iterations` timed steps; returns each timed step's seconds.
func stepTimes(_ iterations: Int, forward: () -> Tensor, backward: (Tensor) -> Void) -> [(forward: Double, backward: Double)] {
    _ = timeStep(forward: forward, backward: backward)
    return (0..<max(iterations, 0)).map { _ in timeStep(forward: forward, backward: backward) }
}

/// Seconds of one forward and one backward, on a fresh tape.
func timeStep(forward: () -> Tensor, backward: (Tensor) -> Void) -> (Double, Double) {
    Tape.shared.reset()
    let t0 = Clock.now
    let y = forward()
    let f = Clock.seconds(since: t0)
    let t1 = Clock.now
    backward(y)
    let b = Clock.seconds(since: t1)
    Tape.shared.reset()
    return (f, b)
}

/// Times `iterations` steps (after a warm-up), each between two ceiling measurements, and
/// prints the workload's effective GFLOP/s as a share of the sgemm ceiling.
///
/// This VM's speed drifts by up to 2× within minutes; a ceiling measured once, before or after,
/// mostly compares two different machines. Each step is therefore compared with the higher of
/// the ceilings measured just before and just after it, each a stretch of back-to-back 1024³
/// products as long as the step (`GEMMCeiling`), and the median of those shares is the result.
/// The share of the fastest single product in those stretches (the burst) is printed beside it.
/// Returns the best step's seconds.
@discardableResult
func measureAgainstCeiling(name: String, iterations: Int, flops: Double,
                           forward: () -> Tensor, backward: (Tensor) -> Void) -> Double {
    let warmUp = timeStep(forward: forward, backward: backward)
    let window = max(0.5, warmUp.0 + warmUp.1)
    var shares: [Double] = [], burstShares: [Double] = [], ceilings: [Double] = []
    var best = (forward: Double.infinity, backward: Double.infinity)
    var before = GEMMCeiling.measure(seconds: window)
    for _ in 0..<max(1, iterations) {
        let (f, b) = timeStep(forward: forward, backward: backward)
        let after = GEMMCeiling.measure(seconds: window)
        let rate = flops / (f + b) / 1e9, ceiling = before.higher(after)
        shares.append(rate / ceiling.sustained)
        burstShares.append(rate / ceiling.burst)
        ceilings.append(ceiling.sustained)
        if f + b < best.forward + best.backward { best = (f, b) }
        before = after
    }
    let step = best.forward + best.backward
    func percents(_ x: [Double]) -> String { x.map { String(format: "%.0f%%", 100 * $0) }.joined(separator: " ") }
    print(String(format: "%@: best step %.3f s (forward %.3f s, backward %.3f s), %.1f GFLOP/s effective", name, step,
                 best.forward, best.backward, flops / step / 1e9))
    print(String(format: "%@: %.0f%% of the sgemm ceiling (median over %d steps, each against the sustained sgemm rate "
                 + "measured around it: %.0f–%.0f GFLOP/s; shares %@)", name, 100 * median(shares), shares.count,
                 ceilings.min()!, ceilings.max()!, percents(shares)))
    print(String(format: "%@: %.0f%% of the fastest single sgemm product around each step (median; shares %@)",
                 name, 100 * median(burstShares), percents(burstShares)))
    return step
}
