/// A Float32 tensor: contiguous, row-major, with a shape. A value type whose storage is shared
/// copy-on-write. `gradSlot` links it to the autodiff `Tape` when gradients are wanted.
public struct Tensor {
    public private(set) var shape: [Int]
    public internal(set) var storage: TensorStorage
    public internal(set) var gradSlot: GradSlot = .none

    public var count: Int { storage.count }
    public var rank: Int { shape.count }

    /// Wraps existing storage; `shape` must cover it exactly.
    public init(shape: [Int], storage: TensorStorage) {
        check(shape.reduce(1, *) == storage.count, "Tensor(shape:storage:): shape \(shape) does not match a storage of \(storage.count) elements")
        self.shape = shape
        self.storage = storage
    }

    /// Memory from the pool, not initialised: for kernels that write every element.
    public init(uninitializedShape shape: [Int]) {
        self.init(shape: shape, storage: TensorStorage(uninitializedCount: shape.reduce(1, *)))
    }

    public init(zeros shape: [Int]) {
        self.init(repeating: 0, shape: shape)
    }

    public init(repeating value: Float, shape: [Int]) {
        self.init(uninitializedShape: shape)
        storage.base.update(repeating: value, count: count)
    }

    public init(_ scalars: [Float], shape: [Int]) {
        self.init(uninitializedShape: shape)
        check(scalars.count == count, "Tensor(shape:scalars:): \(scalars.count) scalars for shape \(shape)")
        scalars.withUnsafeBufferPointer { storage.base.update(from: $0.baseAddress!, count: count) }
    }

    public init(scalar: Float) { self.init([scalar], shape: []) }

    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.base, count: count)) }

    /// The single value of a one-element tensor.
    public var item: Float {
        check(count == 1, "Tensor.item of a tensor with \(count) elements, shape \(shape)")
        return storage.base.pointee
    }

    public subscript(flat i: Int) -> Float { storage.base[i] }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.base, count: count))
    }

    /// Mutable access; copies first if the storage is shared with another tensor value.
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) {
            let copy = TensorStorage(uninitializedCount: count)
            copy.base.update(from: storage.base, count: count)
            storage = copy
        }
        return try body(UnsafeMutableBufferPointer(start: storage.base, count: count))
    }

    /// The same storage under another shape, without recording (use `reshaped` for autodiff).
    public func viewing(as newShape: [Int]) -> Tensor {
        var t = Tensor(shape: newShape, storage: storage)
        t.gradSlot = gradSlot
        return t
    }

    /// A copy that no longer participates in autodiff.
    public var detached: Tensor { Tensor(shape: shape, storage: storage) }

    /// Copies the values into fresh storage.
    public func copy() -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        t.storage.base.update(from: storage.base, count: count)
        return t
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = count <= 16 ? scalars.map { "\($0)" }.joined(separator: ", ") : "\(count) values"
        return "Tensor(\(shape): \(shown))"
    }
}

/// Element count of a shape.
@inline(__always) public func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }
