import Tensors

/// 2-D convolution over [N, C, H, W] (torch.nn.Conv2d: `weight` [out, in, kh, kw], `bias` [out]).
public final class Conv2d: Module {
    public let weight: Parameter
    public let bias: Parameter?
    public let inChannels: Int
    public let outChannels: Int
    public let kernelSize: Int
    public let stride: Int
    public let padding: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0, bias: Bool = true) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        let fanIn = inChannels * kernelSize * kernelSize
        weight = Parameter(shape: [outChannels, inChannels, kernelSize, kernelSize], initializer: .kaimingUniform(fanIn: fanIn))
        self.bias = bias ? Parameter(shape: [outChannels], initializer: .fanInUniform(fanIn: fanIn)) : nil
    }

    public var namedParameters: [(String, Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        check(x.rank == 4 && x.shape[1] == inChannels, "Conv2d(\(inChannels)→\(outChannels)) got input \(x.shape)")
        return conv2d(x, weight: weight.value, bias: bias?.value, stride: stride, padding: padding)
    }
}
