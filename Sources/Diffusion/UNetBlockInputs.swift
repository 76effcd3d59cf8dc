import Layers
import Tensors

/// What every block of a `UNet2DConditionModel` reads besides its feature map: the time (plus
/// class) embedding, the cross-attention states, and how self-attention spans the views.
public struct UNetBlockInputs {
    /// [B·V, time-embedding width].
    public let timeEmbedding: Tensor
    /// [B·V, M, cross_attention_dim]; nil when the model has no cross-attention.
    public let encoderHiddenStates: Tensor?
    public let views: Int
    public let multiView: MultiViewAttention

    public init(timeEmbedding: Tensor, encoderHiddenStates: Tensor?, views: Int, multiView: MultiViewAttention) {
        self.timeEmbedding = timeEmbedding
        self.encoderHiddenStates = encoderHiddenStates
        self.views = views
        self.multiView = multiView
    }

    /// One of the model's attention blocks on `x`.
    func attend(_ attention: Transformer2DModel, _ x: Tensor) -> Tensor {
        guard let context = encoderHiddenStates else {
            fatalError("UNet attention block reached without encoder hidden states (the model's argument checks let it through)")
        }
        return attention(x, context: context, views: views, multiView: multiView)
    }
}

/// How a UNet block builds its attention, when it has one.
public struct UNetAttentionShape: Sendable {
    public let heads: Int
    public let transformerLayers: Int
    public let contextDimension: Int
    public let useLinearProjection: Bool

    public init(heads: Int, transformerLayers: Int, contextDimension: Int, useLinearProjection: Bool) {
        self.heads = heads
        self.transformerLayers = transformerLayers
        self.contextDimension = contextDimension
        self.useLinearProjection = useLinearProjection
    }

    func make(channels: Int, groups: Int) -> Transformer2DModel {
        Transformer2DModel(channels: channels, heads: heads, layers: transformerLayers, contextDimension: contextDimension,
                           groups: groups, useLinearProjection: useLinearProjection)
    }
}

/// The ResNet settings shared by every block of one UNet.
public struct UNetResnetShape: Sendable {
    public let timeEmbeddingChannels: Int
    public let groups: Int
    public let epsilon: Float

    public init(timeEmbeddingChannels: Int, groups: Int, epsilon: Float) {
        self.timeEmbeddingChannels = timeEmbeddingChannels
        self.groups = groups
        self.epsilon = epsilon
    }

    func make(_ inChannels: Int, _ outChannels: Int) -> ResnetBlock2D {
        ResnetBlock2D(inChannels: inChannels, outChannels: outChannels, timeEmbeddingChannels: timeEmbeddingChannels,
                      groups: groups, epsilon: epsilon)
    }
}
