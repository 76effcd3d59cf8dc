import Layers
import Tensors

/// An ArcFace-style face-identity encoder: a small ResNet (diffusers' `ResnetBlock2D` without a
/// time embedding, a stride-2 convolution closing each stage), its last feature map flattened
/// into a linear layer, standardised per dimension (`EmbeddingBatchNorm`, ArcFace's `features`)
/// and L2-normalised. Trained with the additive angular margin loss
/// (`AngularMarginLoss`) against `class_centres`, one row per training identity, which inference
/// never uses. Images are RGB in [0, 1]; the configuration's face box is cut out of them and
/// resized bilinearly to `resolution`² when it is not that size already.
public final class IdentityEncoder: Module {
    public let configuration: IdentityEncoderConfiguration
    public let convIn: Conv2d
    public let stages: [IdentityEncoderStage]
    public let normOut: GroupNorm
    public let embedding: Linear
    public let features: EmbeddingBatchNorm
    /// [classes, embedding dimension]; nil when the configuration has no classes.
    public let classCentres: Parameter?

    public init(_ configuration: IdentityEncoderConfiguration) {
        if let problem = configuration.problem { check(false, "IdentityEncoder: \(problem)") }
        self.configuration = configuration
        let c = configuration
        convIn = Conv2d(3, c.blockOutChannels[0], kernelSize: 3, padding: 1)
        var previous = c.blockOutChannels[0]
        stages = c.blockOutChannels.map { channels in
            defer { previous = channels }
            return IdentityEncoderStage(inChannels: previous, outChannels: channels, layers: c.layersPerBlock, groups: c.normNumGroups)
        }
        normOut = GroupNorm(groups: c.normNumGroups, channels: previous, epsilon: 1e-6)
        embedding = Linear(previous * c.featureSide * c.featureSide, c.embeddingDimension)
        features = EmbeddingBatchNorm(features: c.embeddingDimension)
        // insightface's partial FC starts its centres at N(0, 0.01).
        classCentres = c.classes > 0 ? Parameter(shape: [c.classes, c.embeddingDimension], initializer: .normal(mean: 0, std: 0.01)) : nil
    }

    public var namedParameters: [(String, Parameter)] { classCentres.map { [("class_centres", $0)] } ?? [] }

    public var namedChildren: [(String, any Module)] {
        [("conv_in", convIn)] + indexed("down_blocks", stages) + [("conv_norm_out", normOut), ("embedding", embedding), ("features", features)]
    }

    /// images [N, 3, H, W] in [0, 1] → L2-normalised embeddings [N, embedding dimension].
    /// `training` standardises the embedding by the batch's statistics (and updates the running
    /// ones); inference, frozen use and evaluation use the running statistics.
    public func callAsFunction(_ images: Tensor, training: Bool = false) -> Tensor {
        check(images.rank == 4 && images.shape[1] == 3, "IdentityEncoder needs RGB images [N, 3, H, W], got \(images.shape)")
        let side = configuration.resolution
        let face = faceCrop(images)
        let sized = face.shape[2] == side && face.shape[3] == side ? face : face.resizedBilinear(height: side, width: side)
        var h = convIn(sized * 2 - 1)
        for stage in stages { h = stage(h) }
        h = normOut.withSiLU(h)
        return l2Normalized(features(embedding(h.reshaped([h.shape[0], h.count / h.shape[0]])), training: training))
    }
}

extension IdentityEncoder {
    /// The configuration's face box cut out of images [N, 3, H, W] (rows from H, columns from W,
    /// rounded to whole pixels); the images themselves when the box is the whole image.
    public func faceCrop(_ images: Tensor) -> Tensor {
        guard !configuration.seesWholeImage else { return images }
        let (h, w) = (images.shape[2], images.shape[3])
        func span(_ start: Float, _ side: Float, _ n: Int) -> Range<Int> {
            let first = min(n - 1, Int((start * Float(n)).rounded()))
            return first ..< min(n, first + max(1, Int((side * Float(n)).rounded())))
        }
        let box = configuration.faceBox
        return images.sliced(axis: 2, range: span(box[0], box[2], h)).sliced(axis: 3, range: span(box[1], box[2], w))
    }
}

/// One stage of the encoder: ResNet blocks, then a 3×3 stride-2 convolution.
public final class IdentityEncoderStage: Module {
    public let resnets: [ResnetBlock2D]
    public let downsampler: Downsample2D

    init(inChannels: Int, outChannels: Int, layers: Int, groups: Int) {
        resnets = (0..<layers).map {
            ResnetBlock2D(inChannels: $0 == 0 ? inChannels : outChannels, outChannels: outChannels, timeEmbeddingChannels: nil, groups: groups)
        }
        downsampler = Downsample2D(channels: outChannels)
    }

    public var namedChildren: [(String, any Module)] { indexed("resnets", resnets) + [("downsamplers.0", downsampler)] }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for resnet in resnets { h = resnet(h) }
        return downsampler(h)
    }
}

/// Rows of x [N, D] scaled to unit length (torch.nn.functional.normalize, with ε inside the root).
public func l2Normalized(_ x: Tensor) -> Tensor {
    check(x.rank == 2, "l2Normalized needs [N, D], got \(x.shape)")
    return x / sqrt(square(x).sum(axes: [1], keepDims: true) + 1e-12)
}

/// Cosine similarity of corresponding rows of two L2-normalised embedding batches.
public func cosineSimilarities(_ a: Tensor, _ b: Tensor) -> [Double] {
    check(a.shape == b.shape && a.rank == 2, "cosineSimilarities needs two [N, D] batches of one shape, got \(a.shape) and \(b.shape)")
    let d = a.shape[1]
    return (0..<a.shape[0]).map { i in
        var s = 0.0
        for k in 0..<d { s += Double(a[flat: i * d + k]) * Double(b[flat: i * d + k]) }
        return s
    }
}
