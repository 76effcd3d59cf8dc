import Foundation
import Tensors

/// Runs one warm-up and `iterations` timed steps; returns the best forward and backward seconds.
func timeSteps(_ iterations: Int, forward: () -> Tensor, backward: (Tensor) -> Void) -> (Double, Double) {
    var bestForward = Double.infinity, bestBackward = Double.infinity
    for i in 0...iterations {
        let (f, b) = timeStep(forward: forward, backward: backward)
        if i > 0 { bestForward = min(bestForward, f); bestBackward = min(bestBackward, b) }
    }
    return (bestForward, bestBackward)
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

/// Times `iterations` steps (after a warm-up), each between two quick ceiling measurements, and
/// prints the workload's effective GFLOP/s as a share of the sgemm ceiling.
///
/// This VM's speed drifts by up to 2× within minutes; a ceiling measured once, before or after,
/// mostly compares two different machines. Each step is therefore compared with the higher of
/// the ceilings measured just before and just after it, and the median of those shares is the
/// result. Returns the best step's seconds.
@discardableResult
func measureAgainstCeiling(name: String, iterations: Int, flops: Double,
                           forward: () -> Tensor, backward: (Tensor) -> Void) -> Double {
    _ = timeStep(forward: forward, backward: backward)
    var shares: [Double] = [], ceilings: [Double] = []
    var best = (forward: Double.infinity, backward: Double.infinity)
    var before = GEMMCeiling.measure(sizes: [512, 1024])
    for _ in 0..<max(1, iterations) {
        let (f, b) = timeStep(forward: forward, backward: backward)
        let after = GEMMCeiling.measure(sizes: [512, 1024])
        let ceiling = max(before, after)
        shares.append(flops / (f + b) / 1e9 / ceiling)
        ceilings.append(ceiling)
        if f + b < best.forward + best.backward { best = (f, b) }
        before = after
    }
    let step = best.forward + best.backward
    let median = shares.sorted()[shares.count / 2]
    print(String(format: "%@: best step %.3f s (forward %.3f s, backward %.3f s), %.1f GFLOP/s effective", name, step,
                 best.forward, best.backward, flops / step / 1e9))
    print(String(format: "%@: %.0f%% of the sgemm ceiling (median over %d steps, each against the ceiling measured "
                 + "around it: %.0f–%.0f GFLOP/s; shares %@)", name, 100 * median, shares.count,
                 ceilings.min()!, ceilings.max()!, shares.map { String(format: "%.0f%%", 100 * $0) }.joined(separator: " ")))
    return step
}
