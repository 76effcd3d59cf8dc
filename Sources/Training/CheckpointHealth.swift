import Foundation

/// Whether the weights about to be checkpointed are worth resuming from. Only healthy
/// checkpoints are committed, so `latest` always names one; the rule (recipes/README.md):
///
/// - every weight (and EMA weight) is finite;
/// - the step that produced them was not skipped: no non-finite streak is in progress
///   (the checkpoint is deferred to the first step after the streak);
/// - the weights have not exploded: max |w| ≤ `checkpoint.max_weight_growth` × max(1, max |w|
///   of the previous healthy checkpoint, or of the weights the run started from). One update
///   at an absurd learning rate multiplies the weights long before the loss shows it (the
///   loss of a step is measured before its update), so this rule sees what the loss cannot;
/// - the loss has not exploded: the mean of the last `lossWindow` finite step losses ≤
///   `checkpoint.max_loss_growth` × the lowest such mean since the run (re)started.
///
/// Deferral is rank-independent (the streak is agreed); an explosion stops the run, since no
/// later step of a diverged run can be healthy.
struct CheckpointHealth {
    enum Verdict: Equatable { case healthy, exploded(String) }

    static let lossWindow = 10
    let maxWeightGrowth: Double
    let maxLossGrowth: Double
    /// max |w| of the last weights found healthy.
    private(set) var referenceMagnitude: Double
    private var recentLosses: [Double] = []
    private(set) var lowestRecentMean: Double?

    init(maxWeightGrowth: Double, maxLossGrowth: Double, startingMagnitude: Double) {
        self.maxWeightGrowth = maxWeightGrowth
        self.maxLossGrowth = maxLossGrowth
        referenceMagnitude = startingMagnitude
    }

    var recentMean: Double? {
        recentLosses.count == Self.lossWindow ? recentLosses.reduce(0, +) / Double(Self.lossWindow) : nil
    }

    /// A step's (finite) loss.
    mutating func record(loss: Double) {
        guard loss.isFinite else { return }
        recentLosses.append(loss)
        if recentLosses.count > Self.lossWindow { recentLosses.removeFirst() }
        if let mean = recentMean { lowestRecentMean = min(lowestRecentMean ?? mean, mean) }
    }

    /// Why a checkpoint must wait, if it must: the weights come from a skipped step.
    static func deferral(skippedStreak: Int) -> String? {
        skippedStreak > 0 ? "the last \(skippedStreak) step(s) were skipped (non-finite)" : nil
    }

    /// `magnitude`: max |w| over the weights to be saved (NaN when any is non-finite).
    func judge(magnitude: Double) -> Verdict {
        if !magnitude.isFinite { return .exploded("the weights hold non-finite values") }
        let bound = maxWeightGrowth * max(1, referenceMagnitude)
        if maxWeightGrowth > 0 && magnitude > bound {
            return .exploded(String(format: "the weights exploded: max |w| is %.3g, above checkpoint.max_weight_growth (%g) × %.3g "
                + "(max |w| of the last healthy weights, at least 1)", magnitude, maxWeightGrowth, max(1, referenceMagnitude)))
        }
        if maxLossGrowth > 0, let recent = recentMean, let lowest = lowestRecentMean, recent > maxLossGrowth * lowest {
            return .exploded(String(format: "the loss exploded: its mean over the last %d steps is %.4g, above checkpoint.max_loss_growth "
                + "(%g) × %.4g (the lowest such mean of this run)", Self.lossWindow, recent, maxLossGrowth, lowest))
        }
        return .healthy
    }

    /// The weights of `magnitude` were committed: later growth is measured from them.
    mutating func accept(magnitude: Double) { referenceMagnitude = magnitude }

    /// max |w| over `count` floats; NaN when any is non-finite.
    static func magnitude(_ values: UnsafePointer<Float>, count: Int) -> Double {
        var largest: Float = 0
        for i in 0..<count {
            let m = abs(values[i])
            if !m.isFinite { return .nan }
            largest = max(largest, m)
        }
        return Double(largest)
    }
}
