import Tensors

/// Owns every parameter of a model in ONE flat value buffer and ONE flat gradient buffer.
///
/// After `init`, each `Parameter.value` is a view of its slice of `values`, and its gradient
/// slot is a persistent tape slot pointing at the same slice of `gradients`, so backward
/// accumulates straight into the flat buffer. Optimizers, clipping, EMA and allreduce then
/// work on plain contiguous memory.
///
/// The store owns its slots and releases them when it goes away: a parameter still bound to one
/// then acts as a constant. A store made with `trainable: false` (a model loaded for inference,
/// or frozen inside another) has no gradient buffer and no slots at all: gradients flow through
/// its model to the model's inputs and never into its weights. A module belongs to the store
/// made last over it.
public final class ParameterStore {
    /// Where one parameter lives in the flat buffers.
    public struct Entry {
        public let name: String
        public let offset: Int
        public let count: Int
        public let shape: [Int]
        public let parameter: Parameter
        /// Weight decay applies to matrices and kernels, not to biases and norm scales (1-D).
        public var decays: Bool { shape.count >= 2 }
        public var range: Range<Int> { offset..<(offset + count) }
    }

    public let entries: [Entry]
    public let values: Tensor
    /// The flat gradient buffer; empty when the store is not trainable.
    public let gradients: Tensor
    /// False for a store whose parameters never take gradients (no buffer, no tape slots).
    public let isTrainable: Bool
    private let index: [String: Int]
    private var slots: [GradSlot]

    public var count: Int { values.count }

    /// Collects the parameters of `model` and moves them into the flat buffers. With a seed,
    /// every parameter is initialised by its `Initializer` from a generator derived from the
    /// seed and the parameter's name (so adding a layer does not change the others); without
    /// one, current values are kept.
    public init(model: any Module, seed: UInt64? = nil, trainable: Bool = true) {
        let named = model.allParameters()
        var seen = Set<ObjectIdentifier>()
        var entries: [Entry] = []
        var offset = 0
        for (name, p) in named {
            check(seen.insert(ObjectIdentifier(p)).inserted, "parameter '\(name)' is registered under two names")
            entries.append(Entry(name: name, offset: offset, count: p.count, shape: p.shape, parameter: p))
            // 16-float alignment keeps each parameter's slice on its own 64-byte line.
            offset += (p.count + 15) / 16 * 16
        }
        self.entries = entries
        self.values = Tensor(zeros: [offset])
        self.gradients = Tensor(zeros: [trainable ? offset : 0])
        self.isTrainable = trainable
        var index: [String: Int] = [:]
        for (i, e) in entries.enumerated() { index[e.name] = i }
        self.index = index
        self.slots = []

        let base = values.storage.base
        for e in entries {
            if let seed {
                var rng = Philox(seed: seed, stream: ParameterStore.nameHash(e.name))
                e.parameter.initializer.fill(base + e.offset, count: e.count, rng: &rng)
            } else {
                base.advanced(by: e.offset).update(from: e.parameter.value.storage.base, count: e.count)
            }
            e.parameter.value = Tensor(shape: e.shape, storage: TensorStorage(viewOf: values.storage, offset: e.offset, count: e.count))
        }
        if trainable {
            slots = entries.map { Tape.shared.registerPersistent(gradient: gradients.storage.base + $0.offset) }
        }
        updateGradientBindings()
    }

    deinit { Tape.shared.releasePersistent(slots) }

    /// Re-reads each parameter's `requiresGradient` (after `Module.setFrozen`): frozen
    /// parameters lose their gradient slot, so ops treat them as constants.
    public func updateGradientBindings() {
        for (i, e) in entries.enumerated() {
            e.parameter.value.bindGradient(isTrainable && e.parameter.requiresGradient ? slots[i] : .none)
        }
    }

    /// FNV-1a of the name: a stable generator stream per parameter.
    static func nameHash(_ name: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// Zeroes the flat gradient buffer (call before each forward/backward).
    public func zeroGradients() {
        let g = gradients.storage.base, n = gradients.count
        Parallel.forRanges(n, grain: 1 << 18) { r in (g + r.lowerBound).update(repeating: 0, count: r.count) }
    }

    /// Ranges of the flat buffers that an optimizer updates, with whether weight decay applies
    /// and the factor on the learning rate (`Parameter.learningRateScale`). Adjacent entries
    /// alike in both are merged, so loops run over few long slices.
    public func trainableSegments() -> [Segment] {
        guard isTrainable else { return [] }
        var out: [Segment] = []
        for e in entries where e.parameter.requiresGradient {
            let scale = e.parameter.learningRateScale
            if let last = out.last, last.decays == e.decays, last.learningRateScale == scale,
               last.range.upperBound >= e.offset - 15, last.range.upperBound <= e.offset {
                out[out.count - 1].range = last.range.lowerBound..<e.range.upperBound
            } else {
                out.append(Segment(range: e.range, decays: e.decays, learningRateScale: scale))
            }
        }
        return out
    }

    /// A run of the flat buffers one optimizer loop updates alike.
    public struct Segment: Equatable, Sendable {
        public var range: Range<Int>
        public var decays: Bool
        public var learningRateScale: Float

        public init(range: Range<Int>, decays: Bool, learningRateScale: Float) {
            self.range = range
            self.decays = decays
            self.learningRateScale = learningRateScale
        }
    }

    public func entry(named name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The current value of one parameter (a view of the flat buffer).
    public subscript(name: String) -> Tensor? { entry(named: name)?.parameter.value }

    /// The accumulated gradient of one parameter (a copy); nil for an unknown name or when the
    /// store is not trainable.
    public func gradient(named name: String) -> Tensor? {
        guard isTrainable, let e = entry(named: name) else { return nil }
        let g = Tensor(uninitializedShape: e.shape)
        g.storage.base.update(from: gradients.storage.base + e.offset, count: e.count)
        return g
    }

    /// All parameters by checkpoint key, as copies (safe to keep while training continues).
    public func stateDictionary() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for e in entries {
            let t = Tensor(uninitializedShape: e.shape)
            t.storage.base.update(from: values.storage.base + e.offset, count: e.count)
            out[e.name] = t
        }
        return out
    }

    /// Copies values from a dictionary keyed like `stateDictionary`. Throws before changing
    /// anything if a key is missing (unless `strict` is false), unexpected (when strict), or
    /// has the wrong number of elements. A tensor with equal element count but a different
    /// shape is also refused, naming both shapes.
    public func load(_ dictionary: [String: Tensor], strict: Bool = true) throws {
        var missing: [String] = [], mismatched: [String] = []
        for e in entries {
            guard let t = dictionary[e.name] else { missing.append(e.name); continue }
            if t.shape != e.shape { mismatched.append("\(e.name): expected \(e.shape), got \(t.shape)") }
        }
        let unexpected = dictionary.keys.filter { index[$0] == nil }.sorted()
        if !mismatched.isEmpty || (strict && (!missing.isEmpty || !unexpected.isEmpty)) {
            throw ParameterLoadError(missing: missing, unexpected: strict ? unexpected : [], shapeMismatches: mismatched)
        }
        for e in entries {
            guard let t = dictionary[e.name] else { continue }
            (values.storage.base + e.offset).update(from: t.storage.base, count: e.count)
        }
    }

    /// Copies `other` (e.g. the EMA weights) into the parameter buffer; same layout required.
    public func copyValues(from flat: Tensor) {
        check(flat.count == count, "flat buffer of \(flat.count) floats for a store of \(count)")
        values.storage.base.update(from: flat.storage.base, count: count)
    }
}

/// Why a dictionary of weights does not fit a model.
public struct ParameterLoadError: Error, CustomStringConvertible {
    public let missing: [String]
    public let unexpected: [String]
    public let shapeMismatches: [String]

    public init(missing: [String], unexpected: [String], shapeMismatches: [String]) {
        self.missing = missing
        self.unexpected = unexpected
        self.shapeMismatches = shapeMismatches
    }

    public var description: String {
        var parts: [String] = []
        func list(_ xs: [String]) -> String {
            xs.count <= 20 ? xs.joined(separator: ", ") : xs.prefix(20).joined(separator: ", ") + ", … (\(xs.count) in all)"
        }
        if !missing.isEmpty { parts.append("missing keys: \(list(missing))") }
        if !unexpected.isEmpty { parts.append("unexpected keys: \(list(unexpected))") }
        if !shapeMismatches.isEmpty { parts.append("shape mismatches: \(list(shapeMismatches))") }
        return "cannot load weights: " + parts.joined(separator: "; ")
    }
}
