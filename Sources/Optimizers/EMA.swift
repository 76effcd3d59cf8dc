import Foundation
import Layers
import Tensors

/// Exponential moving average of a store's weights in its own flat buffer (same layout, so
/// `stateDictionary` can name it and `ParameterStore.copyValues(from:)` can swap it in).
///
/// Decay at update n (1-based) follows diffusers' EMAModel: with warm-up,
/// min(decay, 1 − (1 + n/invGamma)^−power); without, the fixed `decay`.
public final class ExponentialMovingAverage {
    public enum Warmup: Equatable, Sendable {
        case none
        case power(invGamma: Float, power: Float)
    }

    public let store: ParameterStore
    public let decay: Float
    public let warmup: Warmup
    public let average: Tensor
    public private(set) var updates = 0

    public init(store: ParameterStore, decay: Float = 0.9999, warmup: Warmup = .none) {
        self.store = store
        self.decay = decay
        self.warmup = warmup
        average = store.values.copy()
    }

    public func currentDecay(forUpdate n: Int) -> Float {
        switch warmup {
        case .none: return decay
        case .power(let invGamma, let power):
            let d = 1 - pow(1 + Float(n) / invGamma, -power)
            return max(0, min(decay, d))
        }
    }

    /// average ← average − (1 − d)·(average − weights).
    public func update() {
        updates += 1
        let w = 1 - currentDecay(forUpdate: updates)
        let a = average.storage.base, p = store.values.storage.base
        Parallel.forRanges(store.count, grain: 1 << 15) { r in
            for i in r { a[i] -= w * (a[i] - p[i]) }
        }
    }

    /// The averaged weights by checkpoint key (copies).
    public func stateDictionary() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for e in store.entries {
            let t = Tensor(uninitializedShape: e.shape)
            t.storage.base.update(from: average.storage.base + e.offset, count: e.count)
            out[e.name] = t
        }
        return out
    }

    /// Restores from a dictionary keyed like `stateDictionary` (missing keys are an error).
    public func load(_ dictionary: [String: Tensor], updates: Int) throws {
        var missing: [String] = [], mismatched: [String] = []
        for e in store.entries {
            guard let t = dictionary[e.name] else { missing.append(e.name); continue }
            if t.shape != e.shape { mismatched.append("\(e.name): expected \(e.shape), got \(t.shape)") }
        }
        if !missing.isEmpty || !mismatched.isEmpty {
            throw ParameterLoadError(missing: missing, unexpected: [], shapeMismatches: mismatched)
        }
        for e in store.entries {
            (average.storage.base + e.offset).update(from: dictionary[e.name]!.storage.base, count: e.count)
        }
        self.updates = updates
    }
}
