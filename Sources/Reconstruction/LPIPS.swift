import Foundation
import Checkpoints
import Layers
import Tensors

/// LPIPS, the learned perceptual image patch similarity of Zhang et al. 2018, as the `lpips`
/// package computes it with `LPIPS(net='vgg', version='0.1')`: images scaled to [−1, 1], then
/// (x − shift) / scale per channel; VGG16's relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3
/// (max pools between them); each map normalised to unit length over its channels; the squared
/// difference of the two images' maps weighted per channel by the learned `lin` layers, summed
/// over channels, averaged over the map, and summed over the five layers. Lower is closer.
///
/// The network's parameters carry the `lpips` module's state_dict names (`net.slice1.0.weight` …
/// `net.slice5.28.bias`, `lin0.model.1.weight` … `lin4.model.1.weight`), so the module's
/// state_dict saved as safetensors loads as it is (scripts/peers/export_lpips_weights.py).
/// Frozen: evaluation only.
public struct LPIPS {
    public let network: LPIPSNetwork
    /// Owns the network's weights; tracks no gradients.
    public let store: ParameterStore

    /// Loads `weightsFile` (safetensors with the `lpips` module's names; others, such as
    /// `scaling_layer.*` or the `lins.*` aliases, are ignored). Throws `PerceptualLossError`
    /// naming the file and every missing or misshaped key.
    public init(weightsFile: String) throws {
        network = LPIPSNetwork()
        store = try loadFrozenWeights(of: network, from: weightsFile, what: "the LPIPS VGG16 weights",
                                      expected: "expected the lpips package's LPIPS(net='vgg') names, "
                                        + "net.slice1.0.weight … net.slice5.28.bias and lin0.model.1.weight … lin4.model.1.weight")
    }

    /// a, b: [N, 3, H, W] in [0, 1], H and W ≥ 16. The N distances, pair by pair.
    public func callAsFunction(_ a: Tensor, _ b: Tensor) -> [Double] { network.distances(a, b) }
}

/// VGG16 up to relu5_3 and the five `lin` layers of `LPIPS`.
public final class LPIPSNetwork: Module {
    /// Per convolution of VGG16's `features` up to relu5_3: its index there, its slice, its
    /// output channels, and whether a tap (the end of a slice) follows its ReLU.
    static let layout: [(index: Int, slice: Int, channels: Int, tap: Bool)] = [
        (0, 1, 64, false), (2, 1, 64, true),
        (5, 2, 128, false), (7, 2, 128, true),
        (10, 3, 256, false), (12, 3, 256, false), (14, 3, 256, true),
        (17, 4, 512, false), (19, 4, 512, false), (21, 4, 512, true),
        (24, 5, 512, false), (26, 5, 512, false), (28, 5, 512, true),
    ]
    /// The `lpips` package's ScalingLayer, applied to images in [−1, 1].
    static let shift: [Float] = [-0.030, -0.088, -0.188], scale: [Float] = [0.458, 0.448, 0.450]
    /// Four 2×2 max pools before relu5_3.
    public static let minimumSize = 16

    public let convolutions: [Conv2d]
    /// `lin{k}.model.1.weight`, [1, channels, 1, 1]: the learned per-channel weights of each tap.
    public let linear: [Parameter]

    public init() {
        convolutions = VGGFeatures.stack(outChannels: Self.layout.map(\.channels))
        linear = Self.layout.filter(\.tap).map { Parameter(shape: [1, $0.channels, 1, 1], initializer: .zeros) }
    }

    public var namedChildren: [(String, any Module)] {
        zip(Self.layout, convolutions).map { ("net.slice\($0.slice).\($0.index)", $1) }
    }

    public var namedParameters: [(String, Parameter)] { linear.enumerated().map { ("lin\($0.offset).model.1.weight", $0.element) } }

    /// a, b: [N, 3, H, W] in [0, 1], H and W ≥ 16. The N distances, per image pair.
    public func distances(_ a: Tensor, _ b: Tensor) -> [Double] {
        check(a.shape == b.shape && a.rank == 4 && a.shape[1] == 3 && a.shape[2] >= Self.minimumSize && a.shape[3] >= Self.minimumSize,
              "LPIPS needs two [N, 3, H, W] batches of one shape with H, W ≥ \(Self.minimumSize), got \(a.shape) and \(b.shape)")
        return withoutGradients {
            let n = a.shape[0]
            let (fa, fb) = (features(a), features(b))
            var total = Tensor(zeros: [n])
            for (k, (x, y)) in zip(fa, fb).enumerated() {
                let d = square(Self.unitChannels(x) - Self.unitChannels(y)) * linear[k].value
                total = total + d.sum(axes: [1, 2, 3]) / Float(x.shape[2] * x.shape[3])
            }
            return (0..<n).map { Double(total[flat: $0]) }
        }
    }

    /// The five taps of x in [0, 1].
    func features(_ x: Tensor) -> [Tensor] {
        var h = (x * 2 - 1 - Tensor(Self.shift, shape: [1, 3, 1, 1])) / Tensor(Self.scale, shape: [1, 3, 1, 1])
        var taps: [Tensor] = []
        for (i, (layer, conv)) in zip(Self.layout, convolutions).enumerated() {
            if i > 0 && Self.layout[i - 1].slice != layer.slice { h = maxPool2d(h) }
            h = relu(conv(h))
            if layer.tap { taps.append(h) }
        }
        return taps
    }

    /// x / (‖x‖ over channels + 1e-10), as `lpips.normalize_tensor`.
    static func unitChannels(_ x: Tensor) -> Tensor { x / (sqrt(square(x).sum(axes: [1], keepDims: true)) + 1e-10) }
}
