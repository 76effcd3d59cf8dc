import Foundation

/// The progress line rank 0 prints: step/total, loss, lr, samples/s and ETA, with rates
/// smoothed over the recent window so one slow step (a checkpoint) does not swing the ETA.
public struct ProgressLine {
    public let totalSteps: Int
    private var window: [(step: Int, time: Double, samples: Int)] = []
    private let windowLength = 20

    public init(totalSteps: Int) { self.totalSteps = totalSteps }

    /// Records that `step` finished at `time` seconds, having processed `samples` samples in total.
    public mutating func mark(step: Int, time: Double, samples: Int) {
        window.append((step, time, samples))
        if window.count > windowLength { window.removeFirst(window.count - windowLength) }
    }

    public var samplesPerSecond: Double? {
        guard let first = window.first, let last = window.last, last.time > first.time else { return nil }
        return Double(last.samples - first.samples) / (last.time - first.time)
    }

    public var secondsPerStep: Double? {
        guard let first = window.first, let last = window.last, last.step > first.step else { return nil }
        return (last.time - first.time) / Double(last.step - first.step)
    }

    public func line(step: Int, loss: Double, learningRate: Double, extra: [String: Double] = [:]) -> String {
        let width = String(totalSteps).count
        var parts = [String(format: "step %\(width)d/%d", step, totalSteps), String(format: "loss %.5f", loss),
                     String(format: "lr %.2e", learningRate)]
        for (k, v) in extra.sorted(by: { $0.key < $1.key }) { parts.append(String(format: "%@ %.4g", k, v)) }
        if let sps = samplesPerSecond { parts.append(String(format: "%.2f samples/s", sps)) }
        if let spstep = secondsPerStep { parts.append("ETA " + ProgressLine.duration(spstep * Double(totalSteps - step))) }
        return parts.joined(separator: "  ")
    }

    public static func duration(_ seconds: Double) -> String {
        let s = max(0, Int(seconds.rounded()))
        if s >= 3600 { return String(format: "%dh%02dm", s / 3600, s % 3600 / 60) }
        if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return "\(s)s"
    }
}
