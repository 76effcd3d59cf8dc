import Foundation
import Layers
import Tensors

/// Exponential moving average of a store's weights in its own flat buffer (same layout, so
/// `stateDictionary` can name it and `ParameterStore.copyValues(from:)` can swap it in).
///
/// The decay of update n (1-based) is diffusers' `EMAModel.get_decay` (update_after_step 0,
/// min_decay 0): with s = n − 1, the first update copies the weights (decay 0), then
/// - `.rational`, diffusers' default: min(decay, (1 + s)/(10 + s));
/// - `.power`, diffusers' `use_ema_warmup`: min(decay, 1 − (1 + s/invGamma)^−power);
/// - `.none`: the fixed `decay` from the first update on, a plain EMA of the initial weights
///   (far behind for about 1/(1 − decay) steps: at 0.999, 300 steps in, the average is still
///   74% initial weights).
public final class ExponentialMovingAverage {
    public enum Warmup: Equatable, Sendable {
        case none
        case rational
        case power(invGamma: Float, power: Float)
    }

    public let store: ParameterStore
    public let decay: Float
    public let warmup: Warmup
    public let average: Tensor
    public private(set) var updates = 0

    public init(store: ParameterStore, decay: Float = 0.9999, warmup: Warmup = .rational) {
        self.store = store
        self.decay = decay
        self.warmup = warmup
        average = store.values.copy()
    }

    public func currentDecay(forUpdate n: Int) -> Float {
        let s = Double(n - 1)
        let ramp: Double
        switch warmup {
        case .none: return decay
        case .rational: ramp = (1 + s) / (10 + s)
        case .power(let invGamma, let power): ramp = 1 - pow(1 + s / Double(invGamma), -Double(power))
        }
        return s <= 0 ? 0 : Float(min(Double(decay), ramp))
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
