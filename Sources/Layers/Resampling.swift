import Tensors

/// diffusers' `Downsample2D` with a convolution: 3×3, stride 2, padding 1 (`conv`).
public final class Downsample2D: Module {
    public let conv: Conv2d

    public init(channels: Int, outChannels: Int? = nil) {
        conv = Conv2d(channels, outChannels ?? channels, kernelSize: 3, stride: 2, padding: 1)
    }

    public var namedChildren: [(String, any Module)] { [("conv", conv)] }

    public func callAsFunction(_ x: Tensor) -> Tensor { conv(x) }
}

/// diffusers' `Upsample2D` with a convolution: nearest ×2, then 3×3 `conv`.
public final class Upsample2D: Module {
    public let conv: Conv2d

    public init(channels: Int, outChannels: Int? = nil) {
        conv = Conv2d(channels, outChannels ?? channels, kernelSize: 3, padding: 1)
    }

    public var namedChildren: [(String, any Module)] { [("conv", conv)] }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        conv(x.upsampledNearest(factor: 2))
    }
}
