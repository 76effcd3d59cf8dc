import Tensors

/// diffusers' `Downsample2D` with a convolution: 3×3, stride 2 (`conv`). With `padding` 0 (the
/// VAE encoder's), diffusers first pads one zero row and column on the bottom and right only,
/// (0, 1, 0, 1), and the convolution pads nothing: the sampling grid is shifted by half a pixel
/// from the UNet's symmetric padding 1.
public final class Downsample2D: Module {
    public let conv: Conv2d
    public let padding: Int

    public init(channels: Int, outChannels: Int? = nil, padding: Int = 1) {
        check(padding == 0 || padding == 1, "Downsample2D: padding \(padding) (diffusers uses 1, or 0 with an asymmetric pad)")
        self.padding = padding
        conv = Conv2d(channels, outChannels ?? channels, kernelSize: 3, stride: 2, padding: padding)
    }

    public var namedChildren: [(String, any Module)] { [("conv", conv)] }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        conv(padding == 0 ? x.padded([(0, 0), (0, 0), (0, 1), (0, 1)]) : x)
    }
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
