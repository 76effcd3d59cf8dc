import Checkpoints
import Foundation

/// What fixes an identity encoder's shape. It travels in each checkpoint's safetensors metadata
/// (`identity_config`, versioned by `ModelConfiguration`), so inference and the tasks that use a
/// frozen encoder rebuild it from the checkpoint alone.
public struct IdentityEncoderConfiguration: ModelConfiguration {
    /// Version 1: the fields below but `faceBox`; version 2 adds it (version 1 saw whole images).
    public static let version = 2
    public static let metadataKey = "identity_config"

    /// Square input side in pixels; other images are resized to it.
    public var resolution = 64
    /// The square the encoder looks at, as fractions of the image's height and width: top, left,
    /// side. ArcFace sees aligned face crops; Relief's renders frame every head alike (the camera
    /// looks at the head's centre), so a fixed box is the alignment, and it keeps most of the
    /// clothing, which varies between an identity's variants, out of view.
    public var faceBox: [Float] = [0, 0, 1]
    /// Channels of each stage; every stage ends with a stride-2 convolution, so the final feature
    /// map is resolution / 2^stages on a side.
    public var blockOutChannels = [16, 32, 64, 128]
    /// ResNet blocks per stage.
    public var layersPerBlock = 1
    /// GroupNorm groups; must divide every stage's channels.
    public var normNumGroups = 8
    /// Length of the L2-normalised embedding.
    public var embeddingDimension = 128
    /// Training identities (rows of the class-centre matrix); 0 for an encoder without centres.
    public var classes = 0
    /// The additive angular margin loss it was trained with (ArcFace's s and m), for the record.
    public var marginScale: Float = 64
    public var margin: Float = 0.5

    public init() {}

    /// Whether the encoder sees the whole image.
    public var seesWholeImage: Bool { faceBox == [0, 0, 1] }

    /// Side of the last feature map, flattened into the embedding layer.
    public var featureSide: Int { resolution >> blockOutChannels.count }

    /// Why this configuration cannot build an encoder, or nil.
    public var problem: String? {
        if blockOutChannels.isEmpty || blockOutChannels.contains(where: { $0 < 1 }) {
            return "block_out_channels must be positive and non-empty, got \(blockOutChannels)"
        }
        if layersPerBlock < 1 || normNumGroups < 1 || embeddingDimension < 1 || classes < 0 {
            return "sizes must be positive (layers_per_block \(layersPerBlock), norm_num_groups \(normNumGroups), "
                + "embedding_dimension \(embeddingDimension), classes \(classes))"
        }
        if let c = blockOutChannels.first(where: { $0 % normNumGroups != 0 }) {
            return "norm_num_groups \(normNumGroups) does not divide \(c) channels"
        }
        if resolution < 1 || resolution % (1 << blockOutChannels.count) != 0 {
            return "resolution \(resolution) is not divisible by 2^\(blockOutChannels.count) (one halving per stage)"
        }
        if faceBox.count != 3 || faceBox.contains(where: { !($0 >= 0 && $0 <= 1) }) || !(faceBox[2] > 0)
            || faceBox[0] + faceBox[2] > 1 + 1e-6 || faceBox[1] + faceBox[2] > 1 + 1e-6 {
            return "face_box must be [top, left, side] fractions of the image with the square inside it, got \(faceBox)"
        }
        if !(marginScale > 0) || !(margin >= 0 && margin < Float.pi / 2) {
            return "margin_scale must be positive and margin in [0, π/2), got \(marginScale) and \(margin)"
        }
        return nil
    }
}
