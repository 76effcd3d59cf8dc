import Tensors

/// Normalises over the last axis, then scales and shifts (torch.nn.LayerNorm over one axis).
public final class LayerNorm: Module {
    public let weight: Parameter?
    public let bias: Parameter?
    public let epsilon: Float
    public let features: Int

    /// `bias: false` is torch's `LayerNorm(features, bias=False)`: a scale and no shift.
    public init(_ features: Int, epsilon: Float = 1e-5, elementwiseAffine: Bool = true, bias: Bool = true) {
        self.features = features
        self.epsilon = epsilon
        weight = elementwiseAffine ? Parameter(shape: [features], initializer: .ones) : nil
        self.bias = elementwiseAffine && bias ? Parameter(shape: [features], initializer: .zeros) : nil
    }

    public var namedParameters: [(String, Parameter)] {
        (weight.map { [("weight", $0)] } ?? []) + (bias.map { [("bias", $0)] } ?? [])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        check(x.shape.last == features, "LayerNorm(\(features)) got input \(x.shape)")
        return layerNorm(x, weight: weight?.value, bias: bias?.value, eps: epsilon)
    }
}
