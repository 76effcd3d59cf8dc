import Tensors

/// A learnable tensor owned by a module. A reference type, so the `ParameterStore` can rebind
/// its value to a view of the flat parameter buffer after the model is built, and every
/// module sees the rebinding.
public final class Parameter {
    /// The current value. Once a store owns it, a view into the flat parameter buffer whose
    /// gradient slot points into the flat gradient buffer. Write new values through the store
    /// (its flat buffer), not by replacing this tensor.
    public internal(set) var value: Tensor
    /// How `ParameterStore` fills the value when it initialises from a seed.
    public let initializer: Initializer
    /// False for frozen parameters: no gradient flows into them and optimizers leave them alone.
    public var requiresGradient = true
    /// Factor on the scheduled learning rate for this parameter (recipe `parameter_groups`).
    /// Optimizers read it when they are built.
    public var learningRateScale: Float = 1

    public init(shape: [Int], initializer: Initializer) {
        self.value = Tensor(zeros: shape)
        self.initializer = initializer
    }

    public var shape: [Int] { value.shape }
    public var count: Int { value.count }
}
