import Foundation
import Tensors

/// A one-line progress report on stderr for long runs: done/total, rate, ETA. Redraws at most
/// twice a second; prints plain lines when stderr is not a terminal (logs stay readable).
public final class ProgressMeter: @unchecked Sendable {
    private let label: String
    private let unit: String
    private let start = Clock.now
    private var lastDraw = -1.0
    private let terminal = isatty(2) != 0
    private let lock = NSLock()

    public init(_ label: String, unit: String = "items") {
        self.label = label
        self.unit = unit
    }

    public func update(done: Int, total: Int) {
        lock.lock(); defer { lock.unlock() }
        let elapsed = Clock.seconds(since: start)
        let finished = done >= total
        let interval = terminal ? 0.5 : 10
        guard finished || elapsed - lastDraw >= interval else { return }
        lastDraw = elapsed
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let line = String(format: "%@ %d/%d %@  %.1f %@/s  elapsed %@  ETA %@", label, done, total, unit, rate, unit,
                          ProgressMeter.clock(elapsed), ProgressMeter.clock(eta))
        FileHandle.standardError.write(Data(((terminal ? "\r\u{1B}[K" : "") + line + (terminal && !finished ? "" : "\n")).utf8))
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
