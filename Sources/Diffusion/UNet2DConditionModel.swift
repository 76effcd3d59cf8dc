import Layers
import Tensors

/// diffusers' `UNet2DConditionModel` (the SD-style subset `UNet2DConditionConfiguration`
/// describes) with multi-view self-attention: a batch holds B samples × V views, each sample's
/// views contiguous, and every transformer block's `attn1` spans the views as `MultiViewAttention`
/// says; cross-attention (`attn2`), ResNets and convolutions run per image. Module tree and key
/// names are diffusers', so weights move both ways (see `UNet2DConditionModel+Loading.swift`).
///
/// conv_in → down blocks (each keeping skip states) → mid block → up blocks (concatenating the
/// skip states from the last) → GroupNorm + SiLU → conv_out; every ResNet adds the time
/// embedding: `time_embedding`(sinusoid of t) + `class_embedding`(class labels) when configured.
public final class UNet2DConditionModel: Module {
    public let configuration: UNet2DConditionConfiguration
    public let convIn: Conv2d
    public let timeEmbedding: TimestepEmbedding
    public let classEmbedding: TimestepEmbedding?
    public let downBlocks: [UNetDownBlock2D]
    public let upBlocks: [UNetUpBlock2D]
    public let midBlock: UNetMidBlock2DCrossAttn?
    public let convNormOut: GroupNorm
    public let convOut: Conv2d

    /// Builds the module tree (values zero until a `ParameterStore` initialises them from a seed
    /// or loads weights). Stops with the configuration's error when it describes no model; readers
    /// of files validate first and throw instead.
    public init(configuration c: UNet2DConditionConfiguration) {
        do { try c.validate() } catch { check(false, "UNet2DConditionModel: \(error)") }
        configuration = c
        let widths = c.blockOutChannels, blocks = widths.count
        let temb = c.timeEmbeddingWidth
        convIn = Conv2d(c.inChannels, widths[0], kernelSize: 3, padding: 1)
        timeEmbedding = TimestepEmbedding(inChannels: widths[0], embeddingDimension: temb)
        classEmbedding = c.classEmbedType == "projection"
            ? TimestepEmbedding(inChannels: c.projectionClassEmbeddingsInputDim!, embeddingDimension: temb) : nil
        let resnet = UNetResnetShape(timeEmbeddingChannels: temb, groups: c.normNumGroups, epsilon: Float(c.normEps))
        func attention(block i: Int) -> UNetAttentionShape {
            UNetAttentionShape(heads: c.heads(block: i), transformerLayers: c.transformerLayersPerBlock,
                               contextDimension: c.crossAttentionDim, useLinearProjection: c.useLinearProjection)
        }
        downBlocks = (0..<blocks).map { i in
            UNetDownBlock2D(inChannels: i == 0 ? widths[0] : widths[i - 1], outChannels: widths[i], layers: c.layersPerBlock,
                            resnet: resnet,
                            attention: c.downBlockTypes[i] == UNet2DConditionConfiguration.crossAttentionDownBlock ? attention(block: i) : nil,
                            downsample: i < blocks - 1)
        }
        midBlock = c.midBlockType == nil ? nil
            : UNetMidBlock2DCrossAttn(channels: widths[blocks - 1], resnet: resnet, attention: attention(block: blocks - 1))
        let reversed = Array(widths.reversed())
        upBlocks = (0..<blocks).map { i in
            UNetUpBlock2D(previousChannels: reversed[max(i - 1, 0)], outChannels: reversed[i],
                          skipChannels: reversed[min(i + 1, blocks - 1)], layers: c.layersPerBlock + 1, resnet: resnet,
                          attention: c.upBlockTypes[i] == UNet2DConditionConfiguration.crossAttentionUpBlock
                              ? attention(block: blocks - 1 - i) : nil,
                          upsample: i < blocks - 1)
        }
        convNormOut = GroupNorm(groups: c.normNumGroups, channels: widths[0], epsilon: Float(c.normEps))
        convOut = Conv2d(widths[0], c.outChannels, kernelSize: 3, padding: 1)
    }

    /// diffusers' registration order (its `state_dict` order): up blocks before the mid block.
    public var namedChildren: [(String, any Module)] {
        var out: [(String, any Module)] = [("conv_in", convIn), ("time_embedding", timeEmbedding)]
        if let classEmbedding { out.append(("class_embedding", classEmbedding)) }
        out += indexed("down_blocks", downBlocks) + indexed("up_blocks", upBlocks)
        if let midBlock { out.append(("mid_block", midBlock)) }
        return out + [("conv_norm_out", convNormOut), ("conv_out", convOut)]
    }

    /// sample [B·V, in_channels, h, w] (each sample's V views contiguous); timesteps: one per image
    /// (B·V values: the caller repeats a sample's timestep over its views); encoderHiddenStates
    /// [B·V, M, cross_attention_dim] (nil only when the configuration has no cross-attention
    /// blocks); classLabels [B·V, projection_class_embeddings_input_dim] when class_embed_type is
    /// "projection" (its embedding is added to the time embedding, as diffusers does).
    /// Returns [B·V, out_channels, h, w]. h and w must be multiples of 2^(blocks − 1).
    public func callAsFunction(_ sample: Tensor, timesteps: [Float], encoderHiddenStates: Tensor?,
                               classLabels: Tensor?, views: Int, multiView: MultiViewAttention) -> Tensor {
        checkInputs(sample, timesteps: timesteps, encoderHiddenStates: encoderHiddenStates, classLabels: classLabels, views: views)
        let c = configuration
        let sinusoid = sinusoidalTimestepEmbedding(timesteps, dimension: c.blockOutChannels[0], flipSinToCos: c.flipSinToCos,
                                                   downscaleFreqShift: Float(c.freqShift))
        var embedding = timeEmbedding(sinusoid)
        if let classEmbedding, let classLabels { embedding = embedding + classEmbedding(classLabels) }
        let inputs = UNetBlockInputs(timeEmbedding: embedding, encoderHiddenStates: c.hasCrossAttention ? encoderHiddenStates : nil,
                                     views: views, multiView: multiView)

        var h = convIn(sample)
        var skips = [h]
        for block in downBlocks {
            let (output, states) = block(h, inputs)
            h = output
            skips += states
        }
        if let midBlock { h = midBlock(h, inputs) }
        for block in upBlocks {
            let taken = block.resnets.count
            h = block(h, skips: Array(skips.suffix(taken)), inputs)
            skips.removeLast(taken)
        }
        return convOut(convNormOut.withSiLU(h))
    }

    /// Every argument check of `callAsFunction`, before any work.
    func checkInputs(_ sample: Tensor, timesteps: [Float], encoderHiddenStates: Tensor?, classLabels: Tensor?, views: Int) {
        let c = configuration
        check(sample.rank == 4 && sample.shape[1] == c.inChannels,
              "UNet2DConditionModel: sample \(sample.shape); expected [batch·views, \(c.inChannels), h, w] (in_channels \(c.inChannels))")
        let (batch, h, w) = (sample.shape[0], sample.shape[2], sample.shape[3])
        check(views >= 1 && batch % views == 0,
              "UNet2DConditionModel: batch \(batch) is not a multiple of \(views) views (each sample's views are contiguous)")
        check(timesteps.count == batch,
              "UNet2DConditionModel: \(timesteps.count) timesteps for a batch of \(batch) images; give one per image (repeat a sample's over its views)")
        let f = c.downsamplingFactor
        check(h >= f && w >= f && h % f == 0 && w % f == 0,
              "UNet2DConditionModel: sample size \(h)×\(w) is not divisible by \(f) = 2^(\(c.blockOutChannels.count) blocks − 1)")
        if c.hasCrossAttention {
            guard let states = encoderHiddenStates else {
                check(false, "UNet2DConditionModel: encoderHiddenStates missing; the model has cross-attention blocks "
                      + "and needs [\(batch), M, \(c.crossAttentionDim)]")
                return
            }
            check(states.rank == 3 && states.shape[0] == batch && states.shape[2] == c.crossAttentionDim,
                  "UNet2DConditionModel: encoderHiddenStates \(states.shape); expected [\(batch), M, \(c.crossAttentionDim)] "
                  + "(one sequence per image, cross_attention_dim \(c.crossAttentionDim))")
        } else {
            check(encoderHiddenStates == nil, "UNet2DConditionModel: encoderHiddenStates given, but the model has no cross-attention blocks")
        }
        if let inputWidth = c.projectionClassEmbeddingsInputDim, c.hasClassEmbedding {
            guard let labels = classLabels else {
                check(false, "UNet2DConditionModel: classLabels missing; class_embed_type 'projection' needs [\(batch), \(inputWidth)]")
                return
            }
            check(labels.rank == 2 && labels.shape[0] == batch && labels.shape[1] == inputWidth,
                  "UNet2DConditionModel: classLabels \(labels.shape); expected [\(batch), \(inputWidth)] "
                  + "(projection_class_embeddings_input_dim \(inputWidth))")
        } else {
            check(classLabels == nil, "UNet2DConditionModel: classLabels given, but the model has no class embedding (class_embed_type null)")
        }
    }
}
