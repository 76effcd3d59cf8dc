import Foundation

/// An `AutoencoderKL`'s shape, under diffusers' `config.json` field names, so one file serves
/// both: Relief reads a diffusers folder's `config.json`, and writes the same JSON next to its
/// weights (and into its checkpoints' safetensors metadata, `vae_config`). Fields a file leaves
/// out take diffusers' defaults (older diffusers versions wrote fewer fields); `_class_name` and
/// `_diffusers_version` are written so that `AutoencoderKL.from_pretrained` accepts the folder.
public struct AutoencoderKLConfiguration: DiffusersConfiguration, Equatable, Sendable {
    public var inChannels = 3
    public var outChannels = 3
    public var downBlockTypes = ["DownEncoderBlock2D"]
    public var upBlockTypes = ["UpDecoderBlock2D"]
    public var blockOutChannels = [64]
    public var layersPerBlock = 1
    public var activation = "silu"
    public var latentChannels = 4
    public var normNumGroups = 32
    public var sampleSize = 32
    /// Latents are multiplied by it before diffusion (SD's 0.18215): 1/std of the training latents.
    public var scalingFactor = 0.18215
    /// Subtracted before scaling when set (SD3/Flux VAEs); nil for SD-style VAEs.
    public var shiftFactor: Double?
    public var latentsMean: [Double]?
    public var latentsStd: [Double]?
    public var forceUpcast = true
    public var useQuantConv = true
    public var usePostQuantConv = true
    public var midBlockAddAttention = true

    public init() {}

    /// The diffusers version whose `AutoencoderKL` this mirrors (written as `_diffusers_version`).
    public static let diffusersVersion = "0.42.1"
    public static let className = "AutoencoderKL"
    /// The safetensors metadata key of Relief checkpoints that holds `json()`.
    public static let metadataKey = "vae_config"

    /// Pixels per latent along each side: 2^(blocks − 1).
    public var downsamplingFactor: Int { 1 << max(blockOutChannels.count - 1, 0) }

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels", downBlockTypes = "down_block_types"
        case upBlockTypes = "up_block_types", blockOutChannels = "block_out_channels", layersPerBlock = "layers_per_block"
        case activation = "act_fn", latentChannels = "latent_channels", normNumGroups = "norm_num_groups"
        case sampleSize = "sample_size", scalingFactor = "scaling_factor", shiftFactor = "shift_factor"
        case latentsMean = "latents_mean", latentsStd = "latents_std", forceUpcast = "force_upcast"
        case useQuantConv = "use_quant_conv", usePostQuantConv = "use_post_quant_conv"
        case midBlockAddAttention = "mid_block_add_attention"
        case className = "_class_name", diffusersVersion = "_diffusers_version"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let name = try c.decodeIfPresent(String.self, forKey: .className), name != Self.className {
            throw AutoencoderKLConfigurationError(key: "_class_name", "is '\(name)'; only AutoencoderKL is supported")
        }
        func read<T: Decodable>(_ key: CodingKeys, _ value: inout T) throws {
            if let v = try c.decodeIfPresent(T.self, forKey: key) { value = v }
        }
        try read(.inChannels, &inChannels)
        try read(.outChannels, &outChannels)
        try read(.downBlockTypes, &downBlockTypes)
        try read(.upBlockTypes, &upBlockTypes)
        try read(.blockOutChannels, &blockOutChannels)
        try read(.layersPerBlock, &layersPerBlock)
        try read(.activation, &activation)
        try read(.latentChannels, &latentChannels)
        try read(.normNumGroups, &normNumGroups)
        // Some configs give sample_size as [height, width]; Relief's VAE is size-agnostic.
        if let size = try? c.decodeIfPresent(Int.self, forKey: .sampleSize) {
            sampleSize = size
        } else if let sizes = try c.decodeIfPresent([Int].self, forKey: .sampleSize), let first = sizes.first {
            sampleSize = first
        }
        try read(.scalingFactor, &scalingFactor)
        shiftFactor = try c.decodeIfPresent(Double.self, forKey: .shiftFactor)
        latentsMean = try c.decodeIfPresent([Double].self, forKey: .latentsMean)
        latentsStd = try c.decodeIfPresent([Double].self, forKey: .latentsStd)
        try read(.forceUpcast, &forceUpcast)
        try read(.useQuantConv, &useQuantConv)
        try read(.usePostQuantConv, &usePostQuantConv)
        try read(.midBlockAddAttention, &midBlockAddAttention)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.className, forKey: .className)
        try c.encode(Self.diffusersVersion, forKey: .diffusersVersion)
        try c.encode(inChannels, forKey: .inChannels)
        try c.encode(outChannels, forKey: .outChannels)
        try c.encode(downBlockTypes, forKey: .downBlockTypes)
        try c.encode(upBlockTypes, forKey: .upBlockTypes)
        try c.encode(blockOutChannels, forKey: .blockOutChannels)
        try c.encode(layersPerBlock, forKey: .layersPerBlock)
        try c.encode(activation, forKey: .activation)
        try c.encode(latentChannels, forKey: .latentChannels)
        try c.encode(normNumGroups, forKey: .normNumGroups)
        try c.encode(sampleSize, forKey: .sampleSize)
        try c.encode(scalingFactor, forKey: .scalingFactor)
        // diffusers writes these as null when unset; so does Relief (encodeNil keeps the key).
        if let shiftFactor { try c.encode(shiftFactor, forKey: .shiftFactor) } else { try c.encodeNil(forKey: .shiftFactor) }
        if let latentsMean { try c.encode(latentsMean, forKey: .latentsMean) } else { try c.encodeNil(forKey: .latentsMean) }
        if let latentsStd { try c.encode(latentsStd, forKey: .latentsStd) } else { try c.encodeNil(forKey: .latentsStd) }
        try c.encode(forceUpcast, forKey: .forceUpcast)
        try c.encode(useQuantConv, forKey: .useQuantConv)
        try c.encode(usePostQuantConv, forKey: .usePostQuantConv)
        try c.encode(midBlockAddAttention, forKey: .midBlockAddAttention)
    }

    /// Throws, naming the key, when this configuration describes no model Relief can build.
    public func validate() throws {
        func fail(_ key: String, _ message: String) -> AutoencoderKLConfigurationError { .init(key: key, message) }
        if inChannels < 1 { throw fail("in_channels", "is \(inChannels); must be at least 1") }
        if outChannels < 1 { throw fail("out_channels", "is \(outChannels); must be at least 1") }
        if latentChannels < 1 { throw fail("latent_channels", "is \(latentChannels); must be at least 1") }
        if layersPerBlock < 1 { throw fail("layers_per_block", "is \(layersPerBlock); must be at least 1") }
        if blockOutChannels.isEmpty { throw fail("block_out_channels", "is empty; needs one width per block") }
        if let bad = blockOutChannels.first(where: { $0 < 1 }) { throw fail("block_out_channels", "holds \(bad); widths must be positive") }
        if normNumGroups < 1 { throw fail("norm_num_groups", "is \(normNumGroups); must be at least 1") }
        if let bad = blockOutChannels.first(where: { $0 % normNumGroups != 0 }) {
            throw fail("norm_num_groups", "is \(normNumGroups), which does not divide block width \(bad) (block_out_channels \(blockOutChannels))")
        }
        if downBlockTypes.count != blockOutChannels.count {
            throw fail("down_block_types", "has \(downBlockTypes.count) blocks but block_out_channels has \(blockOutChannels.count)")
        }
        if upBlockTypes.count != blockOutChannels.count {
            throw fail("up_block_types", "has \(upBlockTypes.count) blocks but block_out_channels has \(blockOutChannels.count)")
        }
        if let bad = downBlockTypes.first(where: { $0 != "DownEncoderBlock2D" }) {
            throw fail("down_block_types", "holds '\(bad)'; only DownEncoderBlock2D is supported")
        }
        if let bad = upBlockTypes.first(where: { $0 != "UpDecoderBlock2D" }) {
            throw fail("up_block_types", "holds '\(bad)'; only UpDecoderBlock2D is supported")
        }
        if activation != "silu" { throw fail("act_fn", "is '\(activation)'; only silu is supported") }
        if !(scalingFactor > 0) || !scalingFactor.isFinite { throw fail("scaling_factor", "is \(scalingFactor); must be positive") }
        for (key, values) in [("latents_mean", latentsMean), ("latents_std", latentsStd)] {
            if let values, values.count != latentChannels {
                throw fail(key, "has \(values.count) values for \(latentChannels) latent channels")
            }
        }
    }

    /// Reads and validates a configuration; errors name `source` (a file) and the key.
    public static func fromJSON(_ data: Data, source: String) throws -> AutoencoderKLConfiguration {
        try decoded(data, source: source)
    }
}

/// A configuration that describes no model: names the file (when known) and the key.
public typealias AutoencoderKLConfigurationError = DiffusersConfigurationError<AutoencoderKLConfiguration>
