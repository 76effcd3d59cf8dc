/// Element-wise arithmetic with NumPy broadcasting, tensor–scalar forms, and the unary math
/// functions, each with its backward. Gradients of broadcast operands are summed back over the
/// stretched dimensions by `Reduction.sum`, which is deterministic.

// MARK: - Unary machinery

/// A lane-wise function and its derivative. `gradient` gets the input, the output and dL/dy,
/// so a backward needs no temporaries (GELU's derivative is evaluated straight from x).
protocol PointwiseFunction {
    func value(_ x: FloatVector) -> FloatVector
    func gradient(_ x: FloatVector, _ y: FloatVector, _ g: FloatVector) -> FloatVector
}

enum PointwiseKernels {
    static let grain = 16_384

    static func forward<F: PointwiseFunction>(_ f: F, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forRanges(count, grain: grain) { r in
            let w = VectorMath.width
            var i = r.lowerBound
            while i + w <= r.upperBound { VectorMath.store(f.value(VectorMath.load(x + i)), y + i); i += w }
            let rest = r.upperBound - i
            if rest > 0 { VectorMath.store(f.value(VectorMath.load(x + i, count: rest)), y + i, count: rest) }
        }
    }

    /// gx += f.gradient(x, y, g).
    static func backward<F: PointwiseFunction>(_ f: F, x: UnsafePointer<Float>, y: UnsafePointer<Float>,
                                               g: UnsafePointer<Float>, into gx: UnsafeMutablePointer<Float>, count: Int,
                                               accumulate: Bool = true) {
        Parallel.forRanges(count, grain: grain) { r in
            let w = VectorMath.width
            var i = r.lowerBound
            while i + w <= r.upperBound {
                let d = f.gradient(VectorMath.load(x + i), VectorMath.load(y + i), VectorMath.load(g + i))
                VectorMath.store(accumulate ? VectorMath.load(gx + i) + d : d, gx + i)
                i += w
            }
            let n = r.upperBound - i
            if n > 0 {
                let d = f.gradient(VectorMath.load(x + i, count: n), VectorMath.load(y + i, count: n), VectorMath.load(g + i, count: n))
                VectorMath.store(accumulate ? VectorMath.load(gx + i, count: n) + d : d, gx + i, count: n)
            }
        }
    }
}

extension Tensor {
    /// Applies `f` element-wise, recording its derivative.
    func mapped<F: PointwiseFunction>(_ f: F) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        PointwiseKernels.forward(f, storage.base, out.storage.base, count: count)
        let x = self
        return out.recorded(x) { [out] g in
            if let (gx, accumulate) = Tape.shared.gradientDestination(x.gradSlot) {
                PointwiseKernels.backward(f, x: x.storage.base, y: out.storage.base, g: g, into: gx, count: x.count,
                                          accumulate: accumulate)
            }
        }
    }
}

// MARK: - Binary ops with broadcasting

struct Add: VectorBinaryFunction { @inline(__always) func callAsFunction(_ a: FloatVector, _ b: FloatVector) -> FloatVector { a + b } }
struct Subtract: VectorBinaryFunction { @inline(__always) func callAsFunction(_ a: FloatVector, _ b: FloatVector) -> FloatVector { a - b } }
struct Multiply: VectorBinaryFunction { @inline(__always) func callAsFunction(_ a: FloatVector, _ b: FloatVector) -> FloatVector { a * b } }
struct Divide: VectorBinaryFunction { @inline(__always) func callAsFunction(_ a: FloatVector, _ b: FloatVector) -> FloatVector { a / b } }

/// The share of the gradient of max(a, b) (or min) that goes to a: 1, ½ on ties, else 0 (PyTorch).
struct FirstOperandShare: VectorBinaryFunction {
    let maximum: Bool
    @inline(__always) func callAsFunction(_ a: FloatVector, _ b: FloatVector) -> FloatVector {
        let wins = maximum ? a .> b : a .< b
        return FloatVector(repeating: 0).replacing(with: 1, where: wins).replacing(with: 0.5, where: a .== b)
    }
}
struct Maximum: VectorBinaryFunction {
    @inline(__always) func callAsFunction(_ a: FloatVector, _ b: FloatVector) -> FloatVector {
        a.replacing(with: b, where: b .> a .| b .!= b)
    }
}
struct Minimum: VectorBinaryFunction {
    @inline(__always) func callAsFunction(_ a: FloatVector, _ b: FloatVector) -> FloatVector {
        a.replacing(with: b, where: b .< a .| b .!= b)
    }
}

/// gx (shape `shape`) += scale · (g of shape `outShape`, summed over broadcast dimensions).
func accumulateReduced(_ g: UnsafePointer<Float>, outShape: [Int], into gx: UnsafeMutablePointer<Float>, shape: [Int], scale: Float,
                       accumulate: Bool = true) {
    let n = elementCount(outShape)
    if elementCount(shape) == n {
        if accumulate {
            BinaryKernels.apply(AddScaled(scale: scale), count: n, gx, 1, g, 1, gx)
        } else {
            BinaryKernels.apply(ScaledSecond(scale: scale), count: n, g, 1, g, 1, gx)
        }
    } else {
        Reduction.sum(g, shape: outShape, to: shape, into: gx, scale: Double(scale), accumulate: accumulate)
    }
}

/// scale·b (the first operand ignored): a scaled copy through the binary kernels.
struct ScaledSecond: VectorBinaryFunction {
    let scale: Float
    @inline(__always) func callAsFunction(_ a: FloatVector, _ b: FloatVector) -> FloatVector { b * scale }
}

/// Routes g (of shape `outShape`) into the gradient of `input`, summed over broadcast axes.
func routeGradient(_ g: UnsafePointer<Float>, outShape: [Int], to input: Tensor, scale: Float = 1) {
    guard let (gx, accumulate) = Tape.shared.gradientDestination(input.gradSlot) else { return }
    accumulateReduced(g, outShape: outShape, into: gx, shape: input.shape, scale: scale, accumulate: accumulate)
}

/// The forward of a broadcasting binary op.
@inline(__always)
func broadcasting<F: VectorBinaryFunction>(_ f: F, _ a: Tensor, _ b: Tensor) -> Tensor {
    let outShape = a.shape == b.shape ? a.shape : broadcastShape(a.shape, b.shape)
    let out = Tensor(uninitializedShape: outShape)
    BinaryKernels.apply(f, x: a, y: b, outShape: outShape, into: out.storage.base)
    return out
}

/// grad (shape `shape`) += f(g, operand) summed over broadcast dimensions: one fused pass when
/// `shape` is the output shape, else through a temporary of the output's shape.
func accumulateGradientTerm<F: VectorBinaryFunction>(_ f: F, _ g: UnsafePointer<Float>, _ outShape: [Int], _ operand: Tensor,
                                                     into grad: UnsafeMutablePointer<Float>, shape: [Int], scale: Float = 1) {
    if elementCount(shape) == elementCount(outShape) && scale == 1 {
        BinaryKernels.apply(f, x: g, shape: outShape, y: operand.storage.base, shape: operand.shape, outShape: outShape,
                            into: grad, accumulate: true)
        return
    }
    let t = Tensor(uninitializedShape: outShape)
    BinaryKernels.apply(f, x: g, shape: outShape, y: operand.storage.base, shape: operand.shape, outShape: outShape,
                        into: t.storage.base)
    accumulateReduced(t.storage.base, outShape: outShape, into: grad, shape: shape, scale: scale)
}

extension Tensor {
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcasting(Add(), a, b)
        let s = out.shape
        return out.recorded(a, b) { g in
            routeGradient(g, outShape: s, to: a)
            routeGradient(g, outShape: s, to: b)
        }
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcasting(Subtract(), a, b)
        let s = out.shape
        return out.recorded(a, b) { g in
            routeGradient(g, outShape: s, to: a)
            routeGradient(g, outShape: s, to: b, scale: -1)
        }
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcasting(Multiply(), a, b)
        let s = out.shape
        return out.recorded(a, b) { g in
            if let ga = Tape.shared.gradientBuffer(a.gradSlot) { accumulateGradientTerm(Multiply(), g, s, b, into: ga, shape: a.shape) }
            if let gb = Tape.shared.gradientBuffer(b.gradSlot) { accumulateGradientTerm(Multiply(), g, s, a, into: gb, shape: b.shape) }
        }
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcasting(Divide(), a, b)
        let s = out.shape
        return out.recorded(a, b) { [out] g in
            if let ga = Tape.shared.gradientBuffer(a.gradSlot) { accumulateGradientTerm(Divide(), g, s, b, into: ga, shape: a.shape) }
            if let gb = Tape.shared.gradientBuffer(b.gradSlot) {  // −g·a/b² = −(g·out)/b
                let t = Tensor(uninitializedShape: s)
                BinaryKernels.apply(Multiply(), count: t.count, g, 1, out.storage.base, 1, t.storage.base)
                accumulateGradientTerm(Divide(), t.storage.base, s, b, into: gb, shape: b.shape, scale: -1)
            }
        }
    }

    public static prefix func - (x: Tensor) -> Tensor { x.mapped(Affine(scale: -1, shift: 0)) }

    public static func + (a: Tensor, s: Float) -> Tensor { a.mapped(Affine(scale: 1, shift: s)) }
    public static func + (s: Float, a: Tensor) -> Tensor { a.mapped(Affine(scale: 1, shift: s)) }
    public static func - (a: Tensor, s: Float) -> Tensor { a.mapped(Affine(scale: 1, shift: -s)) }
    public static func - (s: Float, a: Tensor) -> Tensor { a.mapped(Affine(scale: -1, shift: s)) }
    public static func * (a: Tensor, s: Float) -> Tensor { a.mapped(Affine(scale: s, shift: 0)) }
    public static func * (s: Float, a: Tensor) -> Tensor { a.mapped(Affine(scale: s, shift: 0)) }
    public static func / (a: Tensor, s: Float) -> Tensor { a.mapped(DivideBy(divisor: s)) }
    public static func / (s: Float, a: Tensor) -> Tensor { a.mapped(ScalarOver(numerator: s)) }

    public static func += (a: inout Tensor, b: Tensor) { a = a + b }
    public static func -= (a: inout Tensor, b: Tensor) { a = a - b }
    public static func *= (a: inout Tensor, b: Tensor) { a = a * b }
    public static func /= (a: inout Tensor, b: Tensor) { a = a / b }
    public static func += (a: inout Tensor, s: Float) { a = a + s }
    public static func -= (a: inout Tensor, s: Float) { a = a - s }
    public static func *= (a: inout Tensor, s: Float) { a = a * s }
    public static func /= (a: inout Tensor, s: Float) { a = a / s }
}

/// Element-wise maximum with broadcasting; on ties each side gets half the gradient (PyTorch).
public func maximum(_ a: Tensor, _ b: Tensor) -> Tensor { extremum(a, b, maximum: true) }

/// Element-wise minimum with broadcasting; on ties each side gets half the gradient (PyTorch).
public func minimum(_ a: Tensor, _ b: Tensor) -> Tensor { extremum(a, b, maximum: false) }

func extremum(_ a: Tensor, _ b: Tensor, maximum: Bool) -> Tensor {
    let out = maximum ? broadcasting(Maximum(), a, b) : broadcasting(Minimum(), a, b)
    let s = out.shape
    return out.recorded(a, b) { g in
        let ga = Tape.shared.gradientBuffer(a.gradSlot), gb = Tape.shared.gradientBuffer(b.gradSlot)
        if ga == nil && gb == nil { return }
        let share = broadcasting(FirstOperandShare(maximum: maximum), a, b)  // a's share of g
        let n = share.count
        let t = Tensor(uninitializedShape: s)
        if let ga {
            BinaryKernels.apply(Multiply(), count: n, g, 1, share.storage.base, 1, t.storage.base)
            accumulateReduced(t.storage.base, outShape: s, into: ga, shape: a.shape, scale: 1)
        }
        if let gb {  // g·(1 − share) = g − g·share
            BinaryKernels.apply(Multiply(), count: n, g, 1, share.storage.base, 1, t.storage.base)
            BinaryKernels.apply(Subtract(), count: n, g, 1, t.storage.base, 1, t.storage.base)
            accumulateReduced(t.storage.base, outShape: s, into: gb, shape: b.shape, scale: 1)
        }
    }
}

/// `condition ≠ 0 ? a : b` element-wise, all three broadcast together (torch.where). The
/// condition is a constant mask; gradients flow to the chosen side.
public func select(where condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
    let s = broadcastShape(broadcastShape(condition.shape, a.shape), b.shape)
    let c = withoutGradients { condition.broadcast(to: s) }
    let (av, bv) = withoutGradients { (a.broadcast(to: s), b.broadcast(to: s)) }
    let out = Tensor(uninitializedShape: s)
    let (cp, ap, bp, op) = (c.storage.base, av.storage.base, bv.storage.base, out.storage.base)
    Parallel.forRanges(out.count) { r in
        for i in r { op[i] = cp[i] != 0 ? ap[i] : bp[i] }
    }
    return out.recorded(a, b) { g in
        let t = Tensor(uninitializedShape: s)
        if let ga = Tape.shared.gradientBuffer(a.gradSlot) {
            BinaryKernels.apply(Choose(), count: t.count, c.storage.base, 1, g, 1, t.storage.base)
            accumulateReduced(t.storage.base, outShape: s, into: ga, shape: a.shape, scale: 1)
        }
        if let gb = Tape.shared.gradientBuffer(b.gradSlot) {
            BinaryKernels.apply(ChooseOther(), count: t.count, c.storage.base, 1, g, 1, t.storage.base)
            accumulateReduced(t.storage.base, outShape: s, into: gb, shape: b.shape, scale: 1)
        }
    }
}

/// condition ≠ 0 ? value : 0.
struct Choose: VectorBinaryFunction {
    @inline(__always) func callAsFunction(_ c: FloatVector, _ v: FloatVector) -> FloatVector {
        FloatVector(repeating: 0).replacing(with: v, where: c .!= 0)
    }
}
/// condition = 0 ? value : 0.
struct ChooseOther: VectorBinaryFunction {
    @inline(__always) func callAsFunction(_ c: FloatVector, _ v: FloatVector) -> FloatVector {
        FloatVector(repeating: 0).replacing(with: v, where: c .== 0)
    }
}

// MARK: - Unary functions

struct Affine: PointwiseFunction {
    let scale: Float, shift: Float
    @inline(__always) func value(_ x: FloatVector) -> FloatVector { x * scale + shift }
    @inline(__always) func gradient(_ x: FloatVector, _ y: FloatVector, _ g: FloatVector) -> FloatVector { g * scale }
}

struct DivideBy: PointwiseFunction {
    let divisor: Float
    @inline(__always) func value(_ x: FloatVector) -> FloatVector { x / divisor }
    @inline(__always) func gradient(_ x: FloatVector, _ y: FloatVector, _ g: FloatVector) -> FloatVector { g / divisor }
}

struct ScalarOver: PointwiseFunction {
    let numerator: Float
    @inline(__always) func value(_ x: FloatVector) -> FloatVector { numerator / x }
    @inline(__always) func gradient(_ x: FloatVector, _ y: FloatVector, _ g: FloatVector) -> FloatVector { -g * y / x }
}

struct Exp: PointwiseFunction {
    @inline(__always) func value(_ x: FloatVector) -> FloatVector { VectorMath.exp(x) }
    @inline(__always) func gradient(_ x: FloatVector, _ y: FloatVector, _ g: FloatVector) -> FloatVector { g * y }
}

struct Log: PointwiseFunction {
    @inline(__always) func value(_ x: FloatVector) -> FloatVector { VectorMath.log(x) }
    @inline(__always) func gradient(_ x: FloatVector, _ y: FloatVector, _ g: FloatVector) -> FloatVector { g / x }
}

struct SquareRoot: PointwiseFunction {
    @inline(__always) func value(_ x: FloatVector) -> FloatVector { x.squareRoot() }
    @inline(__always) func gradient(_ x: FloatVector, _ y: FloatVector, _ g: FloatVector) -> FloatVector { g * 0.5 / y }
}

struct Square: PointwiseFunction {
    @inline(__always) func value(_ x: FloatVector) -> FloatVector { x * x }
    @inline(__always) func gradient(_ x: FloatVector, _ y: FloatVector, _ g: FloatVector) -> FloatVector { g * 2 * x }
}

/// xᵖ for a constant p; small integer and half powers take exact shortcuts, the rest `powf`.
struct Power: PointwiseFunction {
    let p: Float
    @inline(__always) func value(_ x: FloatVector) -> FloatVector {
        switch p {
        case 0: return FloatVector(repeating: 1)
        case 1: return x
        case 2: return x * x
        case 3: return x * x * x
        case -1: return 1 / x
        case 0.5: return x.squareRoot()
        case -0.5: return 1 / x.squareRoot()
        default:
            var r = FloatVector()
            for i in 0..<FloatVector.scalarCount { r[i] = powf(x[i], p) }
            return r
        }
    }
    @inline(__always) func gradient(_ x: FloatVector, _ y: FloatVector, _ g: FloatVector) -> FloatVector {
        switch p {
        case 0: return FloatVector()
        case 1: return g
        case 2: return g * 2 * x
        default: return g * p * Power(p: p - 1).value(x)
        }
    }
}

struct Absolute: PointwiseFunction {
    @inline(__always) func value(_ x: FloatVector) -> FloatVector { VectorMath.abs(x) }
    @inline(__always) func gradient(_ x: FloatVector, _ y: FloatVector, _ g: FloatVector) -> FloatVector {
        FloatVector(repeating: 0).replacing(with: g, where: x .> 0).replacing(with: -g, where: x .< 0)
    }
}

struct Clamp: PointwiseFunction {
    let low: Float, high: Float
    @inline(__always) func value(_ x: FloatVector) -> FloatVector {
        x.replacing(with: low, where: x .< low).replacing(with: high, where: x .> high)
    }
    /// The gradient passes where low ≤ x ≤ high (PyTorch).
    @inline(__always) func gradient(_ x: FloatVector, _ y: FloatVector, _ g: FloatVector) -> FloatVector {
        g.replacing(with: 0, where: x .< low .| x .> high)
    }
}

public func exp(_ x: Tensor) -> Tensor { x.mapped(Exp()) }
public func log(_ x: Tensor) -> Tensor { x.mapped(Log()) }
public func sqrt(_ x: Tensor) -> Tensor { x.mapped(SquareRoot()) }
public func square(_ x: Tensor) -> Tensor { x.mapped(Square()) }
public func abs(_ x: Tensor) -> Tensor { x.mapped(Absolute()) }
public func pow(_ x: Tensor, _ exponent: Float) -> Tensor { x.mapped(Power(p: exponent)) }

/// Limits values to [min, max] (either bound optional); the gradient passes inside the range.
public func clamp(_ x: Tensor, min low: Float = -.infinity, max high: Float = .infinity) -> Tensor {
    check(!(low > high), "clamp with min \(low) > max \(high)")
    return x.mapped(Clamp(low: low, high: high))
}

#if canImport(Glibc)
import Glibc
#endif
