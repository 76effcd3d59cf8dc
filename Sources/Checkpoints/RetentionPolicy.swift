import Tensors

/// Which committed steps to keep: the last `keepLast`, every step divisible by `keepEvery`, and
/// always the one `latest` points at. `keepLast == nil` keeps everything.
public struct RetentionPolicy: Sendable, Equatable {
    public var keepLast: Int?
    public var keepEvery: Int?

    public init(keepLast: Int? = nil, keepEvery: Int? = nil) {
        check((keepLast ?? 0) >= 0 && (keepEvery ?? 1) > 0, "keepLast must be ≥ 0 and keepEvery > 0")
        self.keepLast = keepLast
        self.keepEvery = keepEvery
    }

    /// The steps (of `steps`) this policy deletes, in ascending order.
    public func stepsToDelete(_ steps: [Int], latest: Int?) -> [Int] {
        guard let keepLast else { return [] }
        let sorted = steps.sorted()
        let recent = Set(sorted.suffix(keepLast))
        return sorted.filter { step in
            !(recent.contains(step) || step == latest || keepEvery.map { step % $0 == 0 } == true)
        }
    }
}
