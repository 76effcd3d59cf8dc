/// y = x·Wᵀ + b (a linear layer's op): x [rows, in], weight [out, in], bias [out] → [rows, out].
///
/// One GEMM with the bias added in place, and a backward that hands dY straight to the GEMM's
/// gradients and the bias's column sum — no separate add node, whose backward would copy dY
/// once more and whose forward would write a second [rows, out] tensor.
public func affine(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    check(x.rank == 2 && weight.rank == 2 && x.shape[1] == weight.shape[1],
          "affine: x \(x.shape) does not match weight \(weight.shape) ([out, in])")
    guard let bias else { return matmul(x, weight, transposeB: true) }
    let (rows, features) = (x.shape[0], weight.shape[0])
    check(bias.shape == [features], "affine: bias \(bias.shape) for \(features) outputs")
    let out = Tensor(uninitializedShape: [rows, features])
    let geometry = GEMMGeometry(batch: 1, m: rows, n: features, k: x.shape[1], aStride: rows * x.shape[1], bStride: 0)
    geometry.forward(x.storage.base, weight.storage.base, out.storage.base, transposeA: false, transposeB: true)
    BinaryKernels.apply(Add(), x: out.storage.base, shape: out.shape, y: bias.storage.base, shape: bias.shape,
                        outShape: out.shape, into: out.storage.base)  // in place: x may be out's own memory
    let shape = out.shape
    return out.recorded(x, weight, bias) { g in
        if rows == 0 { return }
        if let (gx, accumulate) = Tape.shared.gradientDestination(x.gradSlot) {
            geometry.gradientA(g, weight.storage.base, into: gx, accumulate: accumulate, transposeA: false, transposeB: true)
        }
        if let (gw, accumulate) = Tape.shared.gradientDestination(weight.gradSlot) {
            geometry.gradientB(g, x.storage.base, into: gw, accumulate: accumulate, transposeA: false, transposeB: true)
        }
        routeGradient(g, outShape: shape, to: bias)
    }
}
