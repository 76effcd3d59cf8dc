import Foundation
import Checkpoints
import Layers
import Tensors

/// The VGG19 trunk of FaceLift's perceptual loss (`gslrm/model/utils_losses.py`, after Chen &
/// Koltun's cascaded refinement loss): conv1_1 … conv5_2, each followed by ReLU, with 2×2
/// *average* pooling after conv1_2, conv2_2, conv3_4 and conv4_4 where VGG has max pooling.
/// FaceLift defines conv5_3 and conv5_4 too but never runs them, so they are left out.
///
/// Parameters carry the names of torchvision's `vgg19().features` state_dict
/// (`features.0.weight` … `features.30.bias`), so a file exported from that module, or
/// FaceLift's MatConvNet weights renamed to it, loads by name.
public final class VGGFeatures: Module {
    /// Per convolution: its index in torchvision's `features`, its output channels, whether the
    /// loss reads its ReLU output, and whether a pool follows.
    static let layout: [(index: Int, channels: Int, tap: Bool, pool: Bool)] = [
        (0, 64, false, false), (2, 64, true, true),                                       // conv1_1, conv1_2
        (5, 128, false, false), (7, 128, true, true),                                     // conv2_1, conv2_2
        (10, 256, false, false), (12, 256, true, false), (14, 256, false, false), (16, 256, false, true),  // conv3_x
        (19, 512, false, false), (21, 512, true, false), (23, 512, false, false), (25, 512, false, true),  // conv4_x
        (28, 512, false, false), (30, 512, true, false),                                  // conv5_1, conv5_2
    ]

    /// Four 2×2 pools: smaller images cannot reach conv5.
    public static let minimumSize = 16

    public let convolutions: [Conv2d]

    public init() { convolutions = Self.stack(outChannels: Self.layout.map(\.channels)) }

    /// VGG's chain of 3×3 convolutions (padding 1) from RGB through `outChannels`.
    static func stack(outChannels: [Int]) -> [Conv2d] {
        zip([3] + outChannels.dropLast(), outChannels).map { Conv2d($0, $1, kernelSize: 3, padding: 1) }
    }

    public var namedChildren: [(String, any Module)] {
        zip(Self.layout, convolutions).map { ("features.\($0.index)", $1) }
    }

    /// x: [N, 3, H, W], already normalised (see `PerceptualLoss`). Returns the ReLU outputs of
    /// conv1_2, conv2_2, conv3_2, conv4_2 and conv5_2 (FaceLift's `return_style=0` features).
    public func callAsFunction(_ x: Tensor) -> [Tensor] {
        check(x.rank == 4 && x.shape[1] == 3 && x.shape[2] >= Self.minimumSize && x.shape[3] >= Self.minimumSize,
              "VGGFeatures needs [N, 3, H, W] with H, W ≥ \(Self.minimumSize), got \(x.shape)")
        var h = x
        var taps: [Tensor] = []
        for (layer, conv) in zip(Self.layout, convolutions) {
            h = relu(conv(h))
            if layer.tap { taps.append(h) }
            if layer.pool { h = avgPool2d(h) }
        }
        return taps
    }
}

/// FaceLift's VGG perceptual loss on images in [0, 1]:
///
///     x̂ = 255·x − mean   (per RGB channel, MatConvNet's ImageNet mean; no division by a std)
///     loss = (1·mean|p̂ − t̂| + Σᵢ wᵢ·mean|φᵢ(p̂) − φᵢ(t̂)|) / 255
///
/// with φ₁…φ₅ = relu1_2, relu2_2, relu3_2, relu4_2, relu5_2 and w = 1/2.6, 1/4.8, 1/3.7, 1/5.6,
/// 10/1.5. The normalisation is the one FaceLift's MatConvNet VGG19 weights were trained with;
/// torchvision's weights expect (x − mean)/std on [0, 1] instead, so feed this loss FaceLift's
/// weights under torchvision's names.
///
/// The network is frozen: its parameters hold no gradient slot, so on the tape they are
/// constants, backward computes no weight gradients for them, and nothing reaches the trainer's
/// flat gradient buffer. Only `prediction` (and `target`, if tracked) get gradients.
public struct PerceptualLoss {
    /// The raw-image term's weight, then relu1_2 … relu5_2's (FaceLift's `LAYER_WEIGHTS`).
    public static let layerWeights: [Float] = [1.0, 1 / 2.6, 1 / 4.8, 1 / 3.7, 1 / 5.6, 10 / 1.5]
    /// MatConvNet VGG19's mean pixel, RGB on the 0–255 scale (FaceLift's `IMAGENET_MEAN`).
    public static let pixelMean: [Float] = [123.68, 116.779, 103.939]

    public let network: VGGFeatures
    /// Owns the network's weights; tracks no gradients (a frozen store).
    public let store: ParameterStore

    /// Builds the network and loads `weightsFile` (safetensors with torchvision's
    /// `vgg19().features` key names; tensors the network does not use, such as conv5_3, conv5_4
    /// or a classifier, are ignored). Throws `PerceptualLossError` naming the file and every
    /// missing or misshaped key.
    public init(weightsFile: String) throws {
        network = VGGFeatures()
        store = try loadFrozenWeights(of: network, from: weightsFile, what: "the VGG19 weights for the perceptual loss",
                                      expected: "expected torchvision vgg19().features names, features.0.weight … features.30.bias")
    }

    /// prediction, target: [N, 3, H, W] in [0, 1], H and W ≥ 16. Returns a scalar.
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        check(prediction.shape == target.shape && prediction.rank == 4 && prediction.shape[1] == 3,
              "perceptual loss: prediction \(prediction.shape) and target \(target.shape) must be one [N, 3, H, W]")
        let mean = Tensor(Self.pixelMean, shape: [1, 3, 1, 1])
        func normalised(_ x: Tensor) -> Tensor { x * 255 - mean }
        let p = normalised(prediction)
        // The target usually is data: its pass records nothing unless it is tracked itself.
        let (t, targetFeatures) = target.isTracked ? { let t = normalised(target); return (t, network(t)) }()
            : withoutGradients { let t = normalised(target); return (t, network(t)) }
        let w = Self.layerWeights
        var loss = l1Loss(p, t) * w[0]
        for (i, (pf, tf)) in zip(network(p), targetFeatures).enumerated() { loss = loss + l1Loss(pf, tf) * w[i + 1] }
        return loss / 255
    }
}

/// VGG weights that cannot be used: names the file and what is wrong with it.
public struct PerceptualLossError: Error, CustomStringConvertible, LocalizedError {
    public let file: String
    public let reason: String

    public init(file: String, _ reason: String) {
        self.file = file
        self.reason = reason
    }

    public var description: String { "perceptual loss weights \(file): \(reason)" }
    public var errorDescription: String? { description }
}
