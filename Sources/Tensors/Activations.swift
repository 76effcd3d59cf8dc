/// Activation functions with PyTorch's definitions, each forward and derivative one fused
/// vector pass (the backward recomputes what it needs from x instead of storing temporaries).

struct ReLU: PointwiseFunction {
    @inline(__always) func value(_ x: FloatVector) -> FloatVector { x.replacing(with: 0, where: x .< 0) }
    /// Zero at x = 0, as PyTorch.
    @inline(__always) func gradient(_ x: FloatVector, _ y: FloatVector, _ g: FloatVector) -> FloatVector {
        g.replacing(with: 0, where: x .<= 0)
    }
}

struct Sigmoid: PointwiseFunction {
    @inline(__always) func value(_ x: FloatVector) -> FloatVector { VectorMath.sigmoid(x) }
    @inline(__always) func gradient(_ x: FloatVector, _ y: FloatVector, _ g: FloatVector) -> FloatVector { g * y * (1 - y) }
}

struct Tanh: PointwiseFunction {
    @inline(__always) func value(_ x: FloatVector) -> FloatVector { VectorMath.tanh(x) }
    @inline(__always) func gradient(_ x: FloatVector, _ y: FloatVector, _ g: FloatVector) -> FloatVector { g * (1 - y * y) }
}

/// x·σ(x).
struct SiLU: PointwiseFunction {
    @inline(__always) func value(_ x: FloatVector) -> FloatVector { VectorMath.silu(x) }
    @inline(__always) func gradient(_ x: FloatVector, _ y: FloatVector, _ g: FloatVector) -> FloatVector {
        VectorMath.siluGradient(x, g)
    }
}

/// log(1 + e^(βx))/β, and x itself where βx > threshold (PyTorch's `softplus`).
struct Softplus: PointwiseFunction {
    let beta: Float, threshold: Float
    @inline(__always) func value(_ x: FloatVector) -> FloatVector {
        let bx = x * beta
        let soft = VectorMath.log1pNonNegative(VectorMath.exp(bx)) / beta
        return soft.replacing(with: x, where: bx .> threshold)
    }
    @inline(__always) func gradient(_ x: FloatVector, _ y: FloatVector, _ g: FloatVector) -> FloatVector {
        let bx = x * beta
        return (g * VectorMath.sigmoid(bx)).replacing(with: g, where: bx .> threshold)
    }
}

/// x·Φ(x) with Φ the normal CDF through erf (PyTorch `gelu(approximate='none')`).
struct GELU: PointwiseFunction {
    static let invSqrt2: Float = 0.707_106_781_186_547_5
    static let invSqrt2Pi: Float = 0.398_942_280_401_432_7
    @inline(__always) func value(_ x: FloatVector) -> FloatVector {
        x * 0.5 * (1 + VectorMath.erf(x * GELU.invSqrt2))
    }
    /// Φ(x) + x·φ(x).
    @inline(__always) func gradient(_ x: FloatVector, _ y: FloatVector, _ g: FloatVector) -> FloatVector {
        // One exponential for both: erf(x/√2) needs e^(−x²/2), which is √(2π)·φ(x).
        let e = VectorMath.exp(x * x * -0.5)
        let cdf = 0.5 * (1 + VectorMath.erf(x * GELU.invSqrt2, expOfMinusSquare: e))
        return g * (cdf + x * e * GELU.invSqrt2Pi)
    }
}

/// ½x(1 + tanh(√(2/π)(x + 0.044715x³))) (PyTorch `gelu(approximate='tanh')`).
struct TanhGELU: PointwiseFunction {
    static let beta: Float = 0.797_884_560_802_865_4   // √(2/π)
    static let kappa: Float = 0.044_715
    @inline(__always) func value(_ x: FloatVector) -> FloatVector {
        let inner = (x + x * x * x * TanhGELU.kappa) * TanhGELU.beta
        return x * 0.5 * (1 + VectorMath.tanh(inner))
    }
    @inline(__always) func gradient(_ x: FloatVector, _ y: FloatVector, _ g: FloatVector) -> FloatVector {
        let x2 = x * x
        let t = VectorMath.tanh((x + x2 * x * TanhGELU.kappa) * TanhGELU.beta)
        let dInner = (1 + x2 * (3 * TanhGELU.kappa)) * TanhGELU.beta
        return g * (0.5 * (1 + t) + x * 0.5 * (1 - t * t) * dInner)
    }
}

public func relu(_ x: Tensor) -> Tensor { x.mapped(ReLU()) }
public func sigmoid(_ x: Tensor) -> Tensor { x.mapped(Sigmoid()) }
public func tanh(_ x: Tensor) -> Tensor { x.mapped(Tanh()) }
public func silu(_ x: Tensor) -> Tensor { x.mapped(SiLU()) }

public func softplus(_ x: Tensor, beta: Float = 1, threshold: Float = 20) -> Tensor {
    x.mapped(Softplus(beta: beta, threshold: threshold))
}

/// How `gelu` evaluates the normal CDF, as PyTorch's `approximate` argument.
public enum GELUApproximation: Sendable {
    /// The exact erf form (PyTorch's default, `'none'`).
    case none
    /// The tanh form (`'tanh'`), used by GPT-2-style and many diffusion feed-forwards.
    case tanh
}

public func gelu(_ x: Tensor, approximate: GELUApproximation = .none) -> Tensor {
    switch approximate {
    case .none: return x.mapped(GELU())
    case .tanh: return x.mapped(TanhGELU())
    }
}
