import Tensors

/// y = x·Wᵀ + b over the last axis (torch.nn.Linear: `weight` [out, in], `bias` [out]).
public final class Linear: Module {
    public let weight: Parameter
    public let bias: Parameter?
    public let inFeatures: Int
    public let outFeatures: Int

    /// `weightInitializer` defaults to torch's (kaiming-uniform, a=√5).
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, weightInitializer: Initializer? = nil) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        weight = Parameter(shape: [outFeatures, inFeatures], initializer: weightInitializer ?? .kaimingUniform(fanIn: inFeatures))
        self.bias = bias ? Parameter(shape: [outFeatures], initializer: .fanInUniform(fanIn: inFeatures)) : nil
    }

    public var namedParameters: [(String, Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// x: […, in] → […, out].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        check(x.shape.last == inFeatures, "Linear(\(inFeatures)→\(outFeatures)) got input \(x.shape)")
        let flat = x.rank == 2 ? x : x.reshaped([x.count / inFeatures, inFeatures])
        let y = affine(flat, weight: weight.value, bias: bias?.value)
        return x.rank == 2 ? y : y.reshaped(Array(x.shape.dropLast()) + [outFeatures])
    }
}
