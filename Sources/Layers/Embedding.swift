import Tensors

/// A lookup table of `count` vectors (torch.nn.Embedding: `weight` [count, dimension], N(0, 1) init).
public final class Embedding: Module {
    public let weight: Parameter
    public let count: Int
    public let dimension: Int

    public init(count: Int, dimension: Int) {
        self.count = count
        self.dimension = dimension
        weight = Parameter(shape: [count, dimension], initializer: .normal(mean: 0, std: 1))
    }

    public var namedParameters: [(String, Parameter)] { [("weight", weight)] }

    /// Rows of the table for `indices`: [indices.count, dimension].
    public func callAsFunction(_ indices: [Int]) -> Tensor {
        embedding(weight.value, indices: indices)
    }
}
