import Foundation

/// A `UNet2DConditionModel`'s shape under diffusers' `config.json` field names, so one file
/// serves both: Relief reads a diffusers folder's `config.json` and writes the same JSON beside
/// its weights (and into its checkpoints' safetensors metadata, `unet_config`). Fields a file
/// leaves out take diffusers' defaults (SD 1.x's shape), as `from_pretrained` does.
///
/// Relief builds the SD-style subset: `CrossAttnDownBlock2D`/`DownBlock2D` down blocks, a
/// `UNetMidBlock2DCrossAttn` mid block (or none), `UpBlock2D`/`CrossAttnUpBlock2D` up blocks,
/// positional time embedding, an optional `projection` class embedding. Every other diffusers
/// field is read too and must keep the value that means "off" (`center_input_sample` false,
/// `addition_embed_type` null, …): a file that switches one on is refused, naming the key,
/// rather than loaded as a different network.
public struct UNet2DConditionConfiguration: DiffusersConfiguration, Equatable, Sendable {
    /// Latent side the model was trained at (diffusers may write null or [h, w]; Relief's UNet
    /// runs at any size divisible by `downsamplingFactor`).
    public var sampleSize: Int?
    public var inChannels = 4
    public var outChannels = 4
    public var flipSinToCos = true
    public var freqShift = 0
    public var downBlockTypes = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
    /// nil: no mid block (JSON null).
    public var midBlockType: String? = "UNetMidBlock2DCrossAttn"
    public var upBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
    public var blockOutChannels = [320, 640, 1280, 1280]
    public var layersPerBlock = 2
    public var activation = "silu"
    public var normNumGroups = 32
    public var normEps = 1e-5
    public var crossAttentionDim = 1280
    public var transformerLayersPerBlock = 1
    /// The number of attention HEADS per block, despite the name (diffusers keeps the old
    /// misnomer for its configs; a head is `width / heads` wide). One value for every block (JSON
    /// int) or one per down block (JSON list, SD 2.x's [5, 10, 20, 20]).
    public var attentionHeadDim = [8]
    public var useLinearProjection = false
    /// nil or "projection" (Linear–SiLU–Linear from `projection_class_embeddings_input_dim` to
    /// the time-embedding width, added to the time embedding).
    public var classEmbedType: String?
    public var projectionClassEmbeddingsInputDim: Int?
    /// Width of the time embedding; nil: 4 × block_out_channels[0].
    public var timeEmbeddingDim: Int?
    /// Accepted and written back; in float32 arithmetic upcasting changes nothing.
    public var upcastAttention = false

    public init() {}

    /// The diffusers version whose `UNet2DConditionModel` this mirrors (written as `_diffusers_version`).
    public static let diffusersVersion = "0.42.1"
    public static let className = "UNet2DConditionModel"
    /// The safetensors metadata key of Relief checkpoints that holds `json()`.
    public static let metadataKey = "unet_config"

    public static let crossAttentionDownBlock = "CrossAttnDownBlock2D"
    public static let plainDownBlock = "DownBlock2D"
    public static let crossAttentionMidBlock = "UNetMidBlock2DCrossAttn"
    public static let plainUpBlock = "UpBlock2D"
    public static let crossAttentionUpBlock = "CrossAttnUpBlock2D"

    /// Ratio of the input side to the innermost side: 2^(blocks − 1).
    public var downsamplingFactor: Int { 1 << max(blockOutChannels.count - 1, 0) }
    /// Width of the time embedding the ResNet blocks receive.
    public var timeEmbeddingWidth: Int { timeEmbeddingDim ?? 4 * (blockOutChannels.first ?? 0) }
    /// Heads of the transformers in down block i (and of the up block mirroring it).
    public func heads(block i: Int) -> Int { attentionHeadDim.count == 1 ? attentionHeadDim[0] : attentionHeadDim[i] }
    /// Whether any block attends to `encoder_hidden_states`.
    public var hasCrossAttention: Bool {
        downBlockTypes.contains(Self.crossAttentionDownBlock) || upBlockTypes.contains(Self.crossAttentionUpBlock)
            || midBlockType == Self.crossAttentionMidBlock
    }
    public var hasClassEmbedding: Bool { classEmbedType != nil }

    enum CodingKeys: String, CodingKey {
        case sampleSize = "sample_size", inChannels = "in_channels", outChannels = "out_channels"
        case flipSinToCos = "flip_sin_to_cos", freqShift = "freq_shift", downBlockTypes = "down_block_types"
        case midBlockType = "mid_block_type", upBlockTypes = "up_block_types", blockOutChannels = "block_out_channels"
        case layersPerBlock = "layers_per_block", activation = "act_fn", normNumGroups = "norm_num_groups", normEps = "norm_eps"
        case crossAttentionDim = "cross_attention_dim", transformerLayersPerBlock = "transformer_layers_per_block"
        case attentionHeadDim = "attention_head_dim", useLinearProjection = "use_linear_projection"
        case classEmbedType = "class_embed_type", projectionClassEmbeddingsInputDim = "projection_class_embeddings_input_dim"
        case timeEmbeddingDim = "time_embedding_dim", upcastAttention = "upcast_attention"
        case className = "_class_name", diffusersVersion = "_diffusers_version"
    }

    /// diffusers fields Relief does not build, with the values that leave them off (diffusers'
    /// defaults). Any other value is refused by name.
    static let fixedFields: [(key: String, allowed: [JSONScalar])] = [
        ("center_input_sample", [.bool(false)]),
        ("only_cross_attention", [.bool(false)]),
        ("mid_block_only_cross_attention", [.null, .bool(false)]),
        ("downsample_padding", [.number(1)]),
        ("mid_block_scale_factor", [.number(1)]),
        ("dropout", [.number(0)]),
        ("reverse_transformer_layers_per_block", [.null]),
        ("encoder_hid_dim", [.null]),
        ("encoder_hid_dim_type", [.null]),
        ("num_attention_heads", [.null]),
        ("dual_cross_attention", [.bool(false)]),
        ("addition_embed_type", [.null]),
        ("num_class_embeds", [.null]),
        ("resnet_time_scale_shift", [.string("default")]),
        ("resnet_skip_time_act", [.bool(false)]),
        ("resnet_out_scale_factor", [.number(1)]),
        ("time_embedding_type", [.string("positional")]),
        ("time_embedding_act_fn", [.null]),
        ("timestep_post_act", [.null]),
        ("time_cond_proj_dim", [.null]),
        ("conv_in_kernel", [.number(3)]),
        ("conv_out_kernel", [.number(3)]),
        ("attention_type", [.string("default")]),
        ("class_embeddings_concat", [.bool(false)]),
        ("cross_attention_norm", [.null]),
    ]

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let name = try c.decodeIfPresent(String.self, forKey: .className), name != Self.className {
            throw UNet2DConditionConfigurationError(key: "_class_name", "is '\(name)'; only UNet2DConditionModel is supported")
        }
        /// A present key must hold a value: null is refused (decodeIfPresent would read it as absent).
        func read<T: Decodable>(_ key: CodingKeys, _ value: inout T) throws {
            guard c.contains(key) else { return }
            if try c.decodeNil(forKey: key) { throw UNet2DConditionConfigurationError(key: key.rawValue, "is null; Relief needs a value") }
            value = try c.decode(T.self, forKey: key)
        }
        /// A list written as one value for every block (int) or a list.
        func readPerBlock(_ key: CodingKeys, _ value: inout [Int]) throws {
            guard c.contains(key) else { return }
            if let one = try? c.decode(Int.self, forKey: key) { value = [one] } else { try read(key, &value) }
        }
        if let size = try? c.decodeIfPresent(Int.self, forKey: .sampleSize) {
            sampleSize = size
        } else if let sizes = try c.decodeIfPresent([Int].self, forKey: .sampleSize) {
            sampleSize = sizes.first
        }
        try read(.inChannels, &inChannels)
        try read(.outChannels, &outChannels)
        try read(.flipSinToCos, &flipSinToCos)
        try read(.freqShift, &freqShift)
        try read(.downBlockTypes, &downBlockTypes)
        if c.contains(.midBlockType) { midBlockType = try c.decodeIfPresent(String.self, forKey: .midBlockType) }
        try read(.upBlockTypes, &upBlockTypes)
        try read(.blockOutChannels, &blockOutChannels)
        try read(.layersPerBlock, &layersPerBlock)
        try read(.activation, &activation)
        try read(.normNumGroups, &normNumGroups)
        try read(.normEps, &normEps)
        try read(.crossAttentionDim, &crossAttentionDim)
        try read(.transformerLayersPerBlock, &transformerLayersPerBlock)
        try readPerBlock(.attentionHeadDim, &attentionHeadDim)
        try read(.useLinearProjection, &useLinearProjection)
        classEmbedType = try c.decodeIfPresent(String.self, forKey: .classEmbedType)
        projectionClassEmbeddingsInputDim = try c.decodeIfPresent(Int.self, forKey: .projectionClassEmbeddingsInputDim)
        timeEmbeddingDim = try c.decodeIfPresent(Int.self, forKey: .timeEmbeddingDim)
        try read(.upcastAttention, &upcastAttention)

        let other = try decoder.container(keyedBy: AnyKey.self)
        for (key, allowed) in Self.fixedFields {
            let k = AnyKey(key)
            guard other.contains(k) else { continue }
            let value = try other.decode(JSONScalar.self, forKey: k)
            func accepted(_ v: JSONScalar) -> Bool {
                if case .list(let items) = v { return items.allSatisfy(accepted) }   // per-block lists
                return allowed.contains(v)
            }
            if !accepted(value) {
                throw UNet2DConditionConfigurationError(key: key, "is \(value); Relief's UNet supports only \(allowed.map(\.description).joined(separator: " or "))")
            }
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.className, forKey: .className)
        try c.encode(Self.diffusersVersion, forKey: .diffusersVersion)
        if let sampleSize { try c.encode(sampleSize, forKey: .sampleSize) } else { try c.encodeNil(forKey: .sampleSize) }
        try c.encode(inChannels, forKey: .inChannels)
        try c.encode(outChannels, forKey: .outChannels)
        try c.encode(flipSinToCos, forKey: .flipSinToCos)
        try c.encode(freqShift, forKey: .freqShift)
        try c.encode(downBlockTypes, forKey: .downBlockTypes)
        if let midBlockType { try c.encode(midBlockType, forKey: .midBlockType) } else { try c.encodeNil(forKey: .midBlockType) }
        try c.encode(upBlockTypes, forKey: .upBlockTypes)
        try c.encode(blockOutChannels, forKey: .blockOutChannels)
        try c.encode(layersPerBlock, forKey: .layersPerBlock)
        try c.encode(activation, forKey: .activation)
        try c.encode(normNumGroups, forKey: .normNumGroups)
        try c.encode(normEps, forKey: .normEps)
        try c.encode(crossAttentionDim, forKey: .crossAttentionDim)
        try c.encode(transformerLayersPerBlock, forKey: .transformerLayersPerBlock)
        if attentionHeadDim.count == 1 {
            try c.encode(attentionHeadDim[0], forKey: .attentionHeadDim)
        } else {
            try c.encode(attentionHeadDim, forKey: .attentionHeadDim)
        }
        try c.encode(useLinearProjection, forKey: .useLinearProjection)
        // diffusers writes unset options as null; so does Relief (encodeNil keeps the key).
        if let classEmbedType { try c.encode(classEmbedType, forKey: .classEmbedType) } else { try c.encodeNil(forKey: .classEmbedType) }
        if let projectionClassEmbeddingsInputDim {
            try c.encode(projectionClassEmbeddingsInputDim, forKey: .projectionClassEmbeddingsInputDim)
        } else {
            try c.encodeNil(forKey: .projectionClassEmbeddingsInputDim)
        }
        if let timeEmbeddingDim { try c.encode(timeEmbeddingDim, forKey: .timeEmbeddingDim) } else { try c.encodeNil(forKey: .timeEmbeddingDim) }
        try c.encode(upcastAttention, forKey: .upcastAttention)
    }

    /// Throws, naming the key, when this configuration describes no model Relief can build.
    public func validate() throws {
        func fail(_ key: String, _ message: String) -> UNet2DConditionConfigurationError { .init(key: key, message) }
        let blocks = blockOutChannels.count
        if inChannels < 1 { throw fail("in_channels", "is \(inChannels); must be at least 1") }
        if outChannels < 1 { throw fail("out_channels", "is \(outChannels); must be at least 1") }
        if blockOutChannels.isEmpty { throw fail("block_out_channels", "is empty; needs one width per block") }
        if let bad = blockOutChannels.first(where: { $0 < 1 }) { throw fail("block_out_channels", "holds \(bad); widths must be positive") }
        if layersPerBlock < 1 { throw fail("layers_per_block", "is \(layersPerBlock); must be at least 1") }
        if transformerLayersPerBlock < 1 {
            throw fail("transformer_layers_per_block", "is \(transformerLayersPerBlock); must be at least 1")
        }
        if normNumGroups < 1 { throw fail("norm_num_groups", "is \(normNumGroups); must be at least 1") }
        if let bad = blockOutChannels.first(where: { $0 % normNumGroups != 0 }) {
            throw fail("norm_num_groups", "is \(normNumGroups), which does not divide block width \(bad) (block_out_channels \(blockOutChannels))")
        }
        if !(normEps > 0) || !normEps.isFinite { throw fail("norm_eps", "is \(normEps); must be positive") }
        if downBlockTypes.count != blocks {
            throw fail("down_block_types", "has \(downBlockTypes.count) blocks but block_out_channels has \(blocks)")
        }
        if upBlockTypes.count != blocks {
            throw fail("up_block_types", "has \(upBlockTypes.count) blocks but block_out_channels has \(blocks)")
        }
        let downTypes = [Self.crossAttentionDownBlock, Self.plainDownBlock], upTypes = [Self.plainUpBlock, Self.crossAttentionUpBlock]
        if let bad = downBlockTypes.first(where: { !downTypes.contains($0) }) {
            throw fail("down_block_types", "holds '\(bad)'; Relief supports \(downTypes.joined(separator: " and "))")
        }
        if let bad = upBlockTypes.first(where: { !upTypes.contains($0) }) {
            throw fail("up_block_types", "holds '\(bad)'; Relief supports \(upTypes.joined(separator: " and "))")
        }
        if let midBlockType, midBlockType != Self.crossAttentionMidBlock {
            throw fail("mid_block_type", "is '\(midBlockType)'; Relief supports \(Self.crossAttentionMidBlock) or null")
        }
        if activation != "silu" { throw fail("act_fn", "is '\(activation)'; only silu is supported") }
        if attentionHeadDim.count != 1 && attentionHeadDim.count != blocks {
            throw fail("attention_head_dim", "has \(attentionHeadDim.count) values for \(blocks) blocks (give one, or one per block)")
        }
        for i in 0..<blocks {
            let heads = self.heads(block: i), width = blockOutChannels[i]
            let usesAttention = downBlockTypes[i] == Self.crossAttentionDownBlock || upBlockTypes[blocks - 1 - i] == Self.crossAttentionUpBlock
                || (i == blocks - 1 && midBlockType != nil)
            if usesAttention && (heads < 1 || width % heads != 0) {
                throw fail("attention_head_dim", "gives block \(i) \(heads) heads, which do not split its \(width) channels "
                           + "(diffusers reads attention_head_dim as the number of heads)")
            }
        }
        if hasCrossAttention && crossAttentionDim < 1 {
            throw fail("cross_attention_dim", "is \(crossAttentionDim); must be at least 1")
        }
        if let t = timeEmbeddingDim, t < 1 { throw fail("time_embedding_dim", "is \(t); must be at least 1") }
        if (blockOutChannels[0] & 1) != 0 {
            throw fail("block_out_channels", "starts with \(blockOutChannels[0]); the sinusoidal time embedding needs an even width")
        }
        switch classEmbedType {
        case nil: break
        case "projection":
            guard let d = projectionClassEmbeddingsInputDim, d >= 1 else {
                throw fail("projection_class_embeddings_input_dim", "is \(projectionClassEmbeddingsInputDim.map(String.init) ?? "null"); "
                           + "class_embed_type 'projection' needs the width of the class vectors")
            }
        case let other?:
            throw fail("class_embed_type", "is '\(other)'; Relief supports null or 'projection'")
        }
    }

    /// Reads and validates a configuration; errors name `source` (a file) and the key.
    public init(json data: Data, source: String) throws { self = try Self.decoded(data, source: source) }
}

/// A configuration that describes no model: names the file (when known) and the key.
public typealias UNet2DConditionConfigurationError = DiffusersConfigurationError<UNet2DConditionConfiguration>

/// Any JSON key, for fields read by name from a list.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// A JSON null, bool, number, string or list of them: enough to compare a configuration field
/// with the values Relief accepts.
enum JSONScalar: Decodable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case list([JSONScalar])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else { self = .list(try c.decode([JSONScalar].self)) }
    }

    var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return "\(b)"
        case .number(let d): return d == d.rounded() && abs(d) < 1e15 ? "\(Int(d))" : "\(d)"
        case .string(let s): return "'\(s)'"
        case .list(let xs): return "[" + xs.map(\.description).joined(separator: ", ") + "]"
        }
    }
}
