import Tensors

/// Group normalisation over [N, C, …] (torch.nn.GroupNorm), optionally fused with the SiLU
/// that follows it in every diffusers ResNet block.
public final class GroupNorm: Module {
    public let groups: Int
    public let channels: Int
    public let epsilon: Float
    public let weight: Parameter?
    public let bias: Parameter?

    public init(groups: Int, channels: Int, epsilon: Float = 1e-5, affine: Bool = true) {
        check(groups > 0 && channels % groups == 0, "GroupNorm: \(channels) channels do not split into \(groups) groups")
        self.groups = groups
        self.channels = channels
        self.epsilon = epsilon
        weight = affine ? Parameter(shape: [channels], initializer: .ones) : nil
        bias = affine ? Parameter(shape: [channels], initializer: .zeros) : nil
    }

    public var namedParameters: [(String, Parameter)] {
        guard let weight, let bias else { return [] }
        return [("weight", weight), ("bias", bias)]
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        checkInput(x)
        return groupNorm(x, groups: groups, weight: weight?.value, bias: bias?.value, eps: epsilon)
    }

    /// silu(groupNorm(x)) in one pass.
    public func withSiLU(_ x: Tensor) -> Tensor {
        checkInput(x)
        return groupNormSiLU(x, groups: groups, weight: weight?.value, bias: bias?.value, eps: epsilon)
    }

    private func checkInput(_ x: Tensor) {
        check(x.rank >= 2 && x.shape[1] == channels,
              "GroupNorm(\(groups) groups, \(channels) channels) got input \(x.shape), expected [N, \(channels), …]")
    }
}
