import Tensors

/// diffusers' `FeedForward`: `net.0` is the activation block holding the input projection
/// (`net.0.proj`), `net.1` a dropout (no parameters), `net.2` the output projection.
public final class FeedForward: Module {
    public enum Activation: Sendable {
        /// proj → GELU (exact, erf).
        case gelu
        /// proj to 2×inner, split into (h, gate) → h · GELU(gate).
        case geglu
    }

    public let activation: Activation
    public let proj: Linear
    public let out: Linear
    public let inner: Int

    public init(dimension: Int, outDimension: Int? = nil, multiplier: Int = 4, activation: Activation = .geglu) {
        self.activation = activation
        inner = dimension * multiplier
        proj = Linear(dimension, activation == .geglu ? 2 * inner : inner)
        out = Linear(inner, outDimension ?? dimension)
    }

    public var namedChildren: [(String, any Module)] { [("net.0.proj", proj), ("net.2", out)] }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let h = proj(x)
        switch activation {
        case .gelu:
            return out(gelu(h))
        case .geglu:
            let axis = h.rank - 1
            let value = h.sliced(axis: axis, range: 0..<inner)
            let gate = h.sliced(axis: axis, range: inner..<(2 * inner))
            return out(value * gelu(gate))
        }
    }
}
