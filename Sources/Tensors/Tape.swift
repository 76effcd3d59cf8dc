/// Identifies a tensor on the autodiff tape. Persistent slots (negative generation: the slot's
/// registration serial, negated) belong to parameters and accumulate into caller-owned gradient
/// memory (a store's flat gradient buffer) until their owner releases them; transient slots
/// (positive generation) are valid for one tape generation (one forward/backward).
public struct GradSlot: Equatable, Sendable {
    public var index: Int32
    public var generation: Int32
    public static let none = GradSlot(index: -1, generation: -1)
    public var isNone: Bool { index < 0 }
}

/// Reverse-mode autodiff. Ops record a backward closure when an input is tracked and recording
/// is enabled; `backward` replays them in reverse order, accumulating gradients.
///
/// Autodiff runs on one thread (the training loop); kernels parallelise inside an op. Other
/// threads (the data loader) only use untracked tensors, which never touch the tape.
public final class Tape: @unchecked Sendable {
    public static let shared = Tape()

    struct Record {
        let output: Int32
        let backward: (UnsafeMutablePointer<Float>) -> Void
    }

    /// Whether ops with tracked inputs record themselves (`withoutGradients` turns it off).
    public internal(set) var isRecording = true
    private var generation: Int32 = 1
    private var records: [Record] = []
    private var transient: [TensorStorage?] = []
    private var transientCounts: [Int] = []
    private var persistent: [UnsafeMutablePointer<Float>?] = []
    /// The serial of the registration holding each persistent index; 0 while it is free. A slot
    /// whose serial no longer matches was released: it is dead, even if its index was reused.
    private var persistentSerials: [Int32] = []
    private var freePersistent: [Int32] = []
    private var nextSerial: Int32 = 1

    /// Registers caller-owned gradient memory for a parameter; returns its slot, live until
    /// `releasePersistent`. The owner must release it before the memory goes away.
    public func registerPersistent(gradient: UnsafeMutablePointer<Float>) -> GradSlot {
        let serial = nextSerial
        nextSerial = nextSerial == .max ? 1 : nextSerial + 1
        let index: Int32
        if let reused = freePersistent.popLast() {
            index = reused
            persistent[Int(index)] = gradient
            persistentSerials[Int(index)] = serial
        } else {
            index = Int32(persistent.count)
            persistent.append(gradient)
            persistentSerials.append(serial)
        }
        return GradSlot(index: index, generation: -serial)
    }

    /// Ends persistent slots (a parameter store going away): tensors still bound to them become
    /// constants, and their indices are reused.
    public func releasePersistent(_ slots: [GradSlot]) {
        for slot in slots where slot.generation < 0 && isLive(slot) {
            persistent[Int(slot.index)] = nil
            persistentSerials[Int(slot.index)] = 0
            freePersistent.append(slot.index)
        }
    }

    /// Persistent slots currently registered (all stores' parameters).
    public var livePersistentSlots: Int { persistent.count - freePersistent.count }

    @inline(__always) public func isLive(_ slot: GradSlot) -> Bool {
        guard slot.index >= 0 else { return false }
        return slot.generation < 0 ? persistentSerials[Int(slot.index)] == -slot.generation : slot.generation == generation
    }

    func newTransientSlot(count: Int) -> GradSlot {
        transient.append(nil)
        transientCounts.append(count)
        return GradSlot(index: Int32(transient.count - 1), generation: generation)
    }

    /// The gradient accumulator of `slot`, allocated zeroed on first use; nil for dead slots.
    public func gradientBuffer(_ slot: GradSlot) -> UnsafeMutablePointer<Float>? {
        guard let (buffer, accumulate) = gradientDestination(slot) else { return nil }
        if !accumulate { buffer.update(repeating: 0, count: transientCounts[Int(slot.index)]) }
        return buffer
    }

    /// Where an op puts the gradient of `slot`, and whether it must add to it. On the first
    /// write to a transient slot the buffer is fresh — uninitialised, `accumulate` false — and the
    /// op must store every element: a store instead of a zero fill followed by a read-add.
    public func gradientDestination(_ slot: GradSlot) -> (buffer: UnsafeMutablePointer<Float>, accumulate: Bool)? {
        guard isLive(slot) else { return nil }
        if slot.generation < 0 { return (persistent[Int(slot.index)]!, true) }
        let i = Int(slot.index)
        if let s = transient[i] { return (s.base, true) }
        let s = TensorStorage(uninitializedCount: transientCounts[i])
        transient[i] = s
        return (s.base, false)
    }

    /// The accumulated gradient of a tracked tensor after `backward`, or nil if none flowed.
    public func gradient(of t: Tensor) -> Tensor? {
        guard isLive(t.gradSlot) else { return nil }
        if t.gradSlot.generation < 0 {
            let g = Tensor(uninitializedShape: t.shape)
            g.storage.base.update(from: persistent[Int(t.gradSlot.index)]!, count: t.count)
            return g
        }
        guard let s = transient[Int(t.gradSlot.index)] else { return nil }
        return Tensor(shape: t.shape, storage: s)
    }

    func append(output: GradSlot, backward: @escaping (UnsafeMutablePointer<Float>) -> Void) {
        records.append(Record(output: output.index, backward: backward))
    }

    /// Back-propagates from `loss` (seeded with ones, or with `seed` of the same shape). Frees
    /// intermediate gradients as it goes; leaf gradients stay readable until `reset`.
    public func backward(_ loss: Tensor, seed: Tensor? = nil) {
        guard let g = gradientBuffer(loss.gradSlot) else {
            records.removeAll(keepingCapacity: true)
            return
        }
        if let seed {
            check(seed.count == loss.count, "Tape.backward: seed shape \(seed.shape) for loss \(loss.shape)")
            for i in 0..<loss.count { g[i] += seed[flat: i] }
        } else {
            for i in 0..<loss.count { g[i] += 1 }
        }
        while let record = records.popLast() {
            let i = Int(record.output)
            guard let grad = transient[i] else { continue }
            record.backward(grad.base)
            transient[i] = nil
        }
    }

    /// Drops all records and transient gradients; tensors tracked so far become constants.
    public func reset() {
        records.removeAll(keepingCapacity: true)
        transient.removeAll(keepingCapacity: true)
        transientCounts.removeAll(keepingCapacity: true)
        generation &+= 1
        if generation <= 0 { generation = 1 }
    }

    public var recordCount: Int { records.count }
}

extension Tensor {
    /// True when ops on this tensor are being recorded for autodiff.
    @inline(__always) public var isTracked: Bool {
        !gradSlot.isNone && Tape.shared.isRecording && Tape.shared.isLive(gradSlot)
    }

    /// This tensor as a leaf whose gradient `Tape.shared.gradient(of:)` returns after backward.
    public func requiringGradient() -> Tensor {
        var t = self
        t.gradSlot = Tape.shared.newTransientSlot(count: count)
        return t
    }

    /// Binds this tensor to a persistent slot (parameters; see `Tape.registerPersistent`).
    public mutating func bindGradient(_ slot: GradSlot) { gradSlot = slot }

    /// Records `backward` for this op's output when any input is tracked. `backward` receives
    /// the output gradient and accumulates into inputs via `Tape.shared.gradientBuffer`.
    /// Call as the last step of an op: `return out.recorded(inputs: a, b) { g in … }`.
    @inline(__always)
    public func recorded(_ inputs: Tensor..., backward: @escaping (UnsafeMutablePointer<Float>) -> Void) -> Tensor {
        recorded(anyTracked: inputs.contains { $0.isTracked }, backward: backward)
    }

    @inline(__always)
    public func recorded(anyTracked: Bool, backward: @escaping (UnsafeMutablePointer<Float>) -> Void) -> Tensor {
        guard anyTracked else { return self }
        var out = self
        out.gradSlot = Tape.shared.newTransientSlot(count: count)
        Tape.shared.append(output: out.gradSlot, backward: backward)
        return out
    }
}

/// Runs `body` with recording off: inference and evaluation pay nothing for autodiff.
public func withoutGradients<R>(_ body: () throws -> R) rethrows -> R {
    let tape = Tape.shared
    let was = tape.isRecording
    tape.isRecording = false
    defer { tape.isRecording = was }
    return try body()
}

/// Gradients of a scalar function at the given inputs: for tests and small uses.
public func gradients(of inputs: [Tensor], _ f: ([Tensor]) -> Tensor) -> (value: Tensor, gradients: [Tensor]) {
    let tape = Tape.shared
    tape.reset()
    let tracked = inputs.map { $0.requiringGradient() }
    let value = f(tracked)
    tape.backward(value)
    let grads = tracked.map { tape.gradient(of: $0)?.copy() ?? Tensor(zeros: $0.shape) }
    tape.reset()
    return (value.detached, grads)
}
