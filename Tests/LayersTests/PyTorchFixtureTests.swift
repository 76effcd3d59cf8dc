import Foundation
import Layers
import Tensors
import TestSupport
import XCTest

/// Compares layers with PyTorch on fixtures made by scripts/fixtures/make_layer_fixtures.py:
/// same weights and inputs → same output, and the same gradients of Σ output·probe with
/// respect to inputs and every parameter (max error ≤ 1e-4 of the reference's largest magnitude).
final class PyTorchFixtureTests: XCTestCase {
    struct Fixture {
        let tensors: [String: Tensor]
        func input(_ name: String) -> Tensor { tensors["input.\(name)"]! }
        var parameters: [String: Tensor] {
            var out: [String: Tensor] = [:]
            for (k, v) in tensors where k.hasPrefix("param.") { out[String(k.dropFirst(6))] = v }
            return out
        }
    }

    func load(_ name: String) throws -> Fixture {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "safetensors"),
                                "fixture \(name) missing")
        return Fixture(tensors: try FixtureReader.read(url))
    }


    /// Loads the fixture's weights into `model`, runs `forward` on tracked inputs, back-propagates
    /// the probe and checks output, input gradients and parameter gradients.
    func check(_ name: String, _ model: any Module, inputs: [String], tracked: Set<String>? = nil,
               forward: ([String: Tensor]) -> Tensor, file: StaticString = #filePath, line: UInt = #line) throws {
        let fixture = try load(name)
        let store = ParameterStore(model: model, seed: 0)
        try store.load(fixture.parameters)
        store.zeroGradients()
        Tape.shared.reset()
        var xs: [String: Tensor] = [:]
        for k in inputs { xs[k] = (tracked ?? Set(inputs)).contains(k) ? fixture.input(k).requiringGradient() : fixture.input(k) }
        let y = forward(xs)
        assertRelativelyClose(y, fixture.tensors["output"]!, "\(name) output", file: file, line: line)
        Tape.shared.backward(y, seed: fixture.tensors["probe"]!)
        for k in inputs {
            guard let expected = fixture.tensors["grad.input.\(k)"] else { continue }
            let got = try XCTUnwrap(Tape.shared.gradient(of: xs[k]!), "\(name): no gradient for input \(k)")
            assertRelativelyClose(got, expected, "\(name) d/d input.\(k)", file: file, line: line)
        }
        for e in store.entries {
            let expected = try XCTUnwrap(fixture.tensors["grad.param.\(e.name)"], "\(name): fixture lacks \(e.name)")
            assertRelativelyClose(store.gradient(named: e.name)!, expected, "\(name) d/d \(e.name)", file: file, line: line)
        }
        Tape.shared.reset()
    }

    func testSelfAttention() throws {
        let attn = Attention(queryDimension: 32, heads: 4, headDimension: 8)
        try check("attention_self", attn, inputs: ["x"]) { attn($0["x"]!) }
    }

    func testCrossAttention() throws {
        let attn = Attention(queryDimension: 32, heads: 4, headDimension: 8, contextDimension: 24)
        try check("attention_cross", attn, inputs: ["x", "context"]) { attn($0["x"]!, context: $0["context"]!) }
    }

    func testMultiViewAttention() throws {
        let attn = Attention(queryDimension: 16, heads: 2, headDimension: 8)
        try check("attention_multiview", attn, inputs: ["x"]) { attn($0["x"]!, views: 3) }
    }

    func testFeedForwardGELU() throws {
        let ff = FeedForward(dimension: 16, activation: .gelu)
        try check("feedforward_gelu", ff, inputs: ["x"]) { ff($0["x"]!) }
    }

    func testTransformerBlockWithCrossAttentionAndGEGLU() throws {
        let block = TransformerBlock(dimension: 32, heads: 4, headDimension: 8, contextDimension: 24)
        XCTAssertEqual(block.allParameters().map(\.name).prefix(4), ["norm1.weight", "norm1.bias", "attn1.to_q.weight", "attn1.to_k.weight"])
        try check("transformer_block", block, inputs: ["x", "context"]) { block($0["x"]!, context: $0["context"]!) }
    }

    func testMultiViewTransformerBlock() throws {
        let block = TransformerBlock(dimension: 16, heads: 2, headDimension: 8)
        try check("transformer_block_multiview", block, inputs: ["x"]) { block($0["x"]!, views: 3) }
    }

    func testGroupNorm() throws {
        let norm = GroupNorm(groups: 4, channels: 8, epsilon: 1e-5)
        try check("groupnorm", norm, inputs: ["x"]) { norm($0["x"]!) }
    }

    func testLayerNorm() throws {
        let norm = LayerNorm(24)
        try check("layernorm", norm, inputs: ["x"]) { norm($0["x"]!) }
    }

    func testResnetBlockWithShortcut() throws {
        let block = ResnetBlock2D(inChannels: 8, outChannels: 16, timeEmbeddingChannels: 12, groups: 4)
        XCTAssertEqual(block.allParameters().map(\.name).last, "conv_shortcut.bias")
        try check("resnet_block", block, inputs: ["x", "temb"]) { block($0["x"]!, timeEmbedding: $0["temb"]!) }
    }

    func testResnetBlockSameChannels() throws {
        let block = ResnetBlock2D(inChannels: 16, timeEmbeddingChannels: 12, groups: 4)
        try check("resnet_block_same", block, inputs: ["x", "temb"]) { block($0["x"]!, timeEmbedding: $0["temb"]!) }
    }

    func testDownsampleAndUpsample() throws {
        let down = Downsample2D(channels: 8, outChannels: 12)
        try check("downsample", down, inputs: ["x"]) { down($0["x"]!) }
        let up = Upsample2D(channels: 8, outChannels: 6)
        try check("upsample", up, inputs: ["x"]) { up($0["x"]!) }
    }

    func testTimestepEmbedding() throws {
        let mlp = TimestepEmbedding(inChannels: 32, embeddingDimension: 48)
        try check("timestep_embedding", mlp, inputs: ["timesteps"], tracked: []) { xs in
            mlp(sinusoidalTimestepEmbedding(xs["timesteps"]!.scalars, dimension: 32, flipSinToCos: true, downscaleFreqShift: 0))
        }
    }
}
