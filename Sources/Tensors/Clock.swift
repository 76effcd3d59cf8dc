import Foundation

/// Monotonic wall-clock time for benchmarks and progress reports.
public enum Clock {
    public static var now: UInt64 { DispatchTime.now().uptimeNanoseconds }
    public static func seconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
}
