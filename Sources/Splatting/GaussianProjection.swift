import Foundation

/// Constants of the classic gsplat rasterizer; forward and backward share every one.
public enum SplatConstants {
    /// Camera-space depth below which a Gaussian is culled.
    public static let nearPlane = 0.01
    /// Low-pass dilation added to the 2D covariance diagonal (pixels²).
    public static let dilation = 0.3
    /// Off-screen clamp of x/z, y/z: the image half-extent plus this fraction of the half-FOV tangent.
    public static let frustumMargin = 0.3
    public static let maxAlpha: Float = 0.99
    public static let minAlpha: Float = 1 / 255
    /// A pixel stops before its transmittance would fall to this (that Gaussian is not blended).
    public static let minTransmittance: Float = 1e-4
    /// Colour from degree-0 spherical harmonics: max(0, shC0 · f_dc + 0.5).
    public static let shC0 = 0.28209479177387814
    /// Log-scales are clamped here (gradient zero beyond) so covariances never overflow.
    public static let logScaleRange = -30.0...30.0
    /// Quaternions shorter than this give the identity rotation and no gradient.
    public static let minQuaternionNorm = 1e-12
    public static let tileSize = 16
}

/// One view's camera as the projection uses it.
struct ViewParameters {
    var r: (Double, Double, Double, Double, Double, Double, Double, Double, Double)
    var t: SIMD3<Double>
    var fx, fy, cx, cy: Double
    var limXNeg, limXPos, limYNeg, limYPos: Double
    var width, height: Int

    init(_ c: Camera) {
        let m = c.worldToCamera
        r = (m[0, 0], m[0, 1], m[0, 2], m[1, 0], m[1, 1], m[1, 2], m[2, 0], m[2, 1], m[2, 2])
        t = [m[0, 3], m[1, 3], m[2, 3]]
        fx = c.fx; fy = c.fy; cx = c.cx; cy = c.cy
        width = c.width; height = c.height
        let tanX = 0.5 * Double(c.width) / c.fx, tanY = 0.5 * Double(c.height) / c.fy
        let margin = SplatConstants.frustumMargin
        limXNeg = c.cx / c.fx + margin * tanX
        limXPos = (Double(c.width) - c.cx) / c.fx + margin * tanX
        limYNeg = c.cy / c.fy + margin * tanY
        limYPos = (Double(c.height) - c.cy) / c.fy + margin * tanY
    }

    @inline(__always) func apply(_ p: SIMD3<Double>) -> SIMD3<Double> {
        SIMD3(r.0 * p.x + r.1 * p.y + r.2 * p.z, r.3 * p.x + r.4 * p.y + r.5 * p.z, r.6 * p.x + r.7 * p.y + r.8 * p.z) + t
    }
    @inline(__always) func applyTransposed(_ p: SIMD3<Double>) -> SIMD3<Double> {
        SIMD3(r.0 * p.x + r.3 * p.y + r.6 * p.z, r.1 * p.x + r.4 * p.y + r.7 * p.z, r.2 * p.x + r.5 * p.y + r.8 * p.z)
    }
    var rotation: Mat3 { Mat3(r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8) }
}

/// A small row-major 3×3 matrix for the per-Gaussian algebra (Double: cheap at this size and it
/// keeps huge or near-degenerate covariances finite).
struct Mat3 {
    var r0, r1, r2: SIMD3<Double>
    init(_ a: Double, _ b: Double, _ c: Double, _ d: Double, _ e: Double, _ f: Double, _ g: Double, _ h: Double, _ i: Double) {
        r0 = [a, b, c]; r1 = [d, e, f]; r2 = [g, h, i]
    }
    @inline(__always) subscript(r: Int, c: Int) -> Double {
        get { r == 0 ? r0[c] : r == 1 ? r1[c] : r2[c] }
        set {
            switch r {
            case 0: r0[c] = newValue
            case 1: r1[c] = newValue
            default: r2[c] = newValue
            }
        }
    }
    static var zero: Mat3 { Mat3(0, 0, 0, 0, 0, 0, 0, 0, 0) }
    var transposed: Mat3 { Mat3(r0.x, r1.x, r2.x, r0.y, r1.y, r2.y, r0.z, r1.z, r2.z) }
    @inline(__always) static func * (a: Mat3, b: Mat3) -> Mat3 {
        var c = Mat3.zero
        c.r0 = a.r0.x * b.r0 + a.r0.y * b.r1 + a.r0.z * b.r2
        c.r1 = a.r1.x * b.r0 + a.r1.y * b.r1 + a.r1.z * b.r2
        c.r2 = a.r2.x * b.r0 + a.r2.y * b.r1 + a.r2.z * b.r2
        return c
    }
}

/// A Gaussian's view-independent quantities after activation.
struct ActivatedGaussian {
    var mean: SIMD3<Double>
    /// Unit quaternion (w, x, y, z), the input's norm, and whether it was usable.
    var q: SIMD4<Double>
    var qNorm: Double
    var rotation: Mat3
    var scale: SIMD3<Double>
    var scaleClamped: SIMD3<Double>  // 1 where the log-scale was inside the clamp range, else 0
    /// World covariance R S² Rᵀ.
    var covariance: Mat3
    var opacity: Double
    var color: SIMD3<Double>

    init(mean: UnsafePointer<Float>, quaternion: UnsafePointer<Float>, logScale: UnsafePointer<Float>,
         opacityLogit: Float, sh: UnsafePointer<Float>) {
        self.mean = [Double(mean[0]), Double(mean[1]), Double(mean[2])]
        let raw = SIMD4<Double>(Double(quaternion[0]), Double(quaternion[1]), Double(quaternion[2]), Double(quaternion[3]))
        let norm = (raw * raw).sum().squareRoot()
        qNorm = norm
        q = norm > SplatConstants.minQuaternionNorm && norm.isFinite ? raw / norm : [1, 0, 0, 0]
        let (w, x, y, z) = (q[0], q[1], q[2], q[3])
        rotation = Mat3(1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y))
        var s = SIMD3<Double>.zero, inside = SIMD3<Double>.zero
        for k in 0..<3 {
            let l = Double(logScale[k])
            let range = SplatConstants.logScaleRange
            inside[k] = range.contains(l) ? 1 : 0
            s[k] = exp(min(max(l, range.lowerBound), range.upperBound))
        }
        scale = s; scaleClamped = inside
        var c = Mat3.zero
        for i in 0..<3 {
            for j in i..<3 {
                let v = rotation[i, 0] * rotation[j, 0] * s.x * s.x + rotation[i, 1] * rotation[j, 1] * s.y * s.y
                    + rotation[i, 2] * rotation[j, 2] * s.z * s.z
                c[i, j] = v; c[j, i] = v
            }
        }
        covariance = c
        let l = Double(opacityLogit)
        opacity = l >= 0 ? 1 / (1 + exp(-l)) : exp(l) / (1 + exp(l))
        let k = SplatConstants.shC0
        color = [max(0, k * Double(sh[0]) + 0.5), max(0, k * Double(sh[1]) + 0.5), max(0, k * Double(sh[2]) + 0.5)]
    }
}

/// What projection needs of a Gaussian (kept per Gaussian across views; compact so a large
/// scene's copy stays small).
struct ProjectionInput {
    var mean: SIMD3<Double>
    var covariance: Mat3
    var opacity: Double
    init(_ g: ActivatedGaussian) { mean = g.mean; covariance = g.covariance; opacity = g.opacity }
}

/// A Gaussian seen from one view: what the tile kernels read.
struct ProjectedGaussian {
    var meanX, meanY: Double
    /// Inverse 2D covariance (a, b, c): σ = ½(a dx² + c dy²) + b dx dy.
    var conicA, conicB, conicC: Double
    var depth: Double
    /// Inclusive pixel box of the pixels where α can reach 1/255, clipped to the image.
    var x0, x1, y0, y1: Int
}

/// Intermediate values of the projection that its vector-Jacobian product reuses.
struct ProjectionTrace {
    var tCam: SIMD3<Double>
    var u: Double, v: Double        // clamped x/z, y/z
    var xClamped: Bool, yClamped: Bool
    var j: (Double, Double, Double, Double)  // J00, J02, J11, J12
    var covCam: Mat3
    var cov2d: (Double, Double, Double)
    var conic: (Double, Double, Double)
}

enum Projection {
    /// EWA projection (gsplat classic). Returns nil when the Gaussian cannot touch the image.
    @inline(__always)
    static func project(_ g: ProjectionInput, view: ViewParameters, trace: inout ProjectionTrace) -> ProjectedGaussian? {
        let tc = view.apply(g.mean)
        guard tc.z >= SplatConstants.nearPlane else { return nil }
        let z = tc.z, iz = 1 / z
        let xz = tc.x * iz, yz = tc.y * iz
        let u = min(max(xz, -view.limXNeg), view.limXPos)
        let v = min(max(yz, -view.limYNeg), view.limYPos)
        let j00 = view.fx * iz, j02 = -view.fx * u * iz, j11 = view.fy * iz, j12 = -view.fy * v * iz
        let w = view.rotation
        let cc = w * g.covariance * w.transposed
        // J Σc Jᵀ with J = [[j00, 0, j02], [0, j11, j12]].
        let a = j00 * j00 * cc[0, 0] + 2 * j00 * j02 * cc[0, 2] + j02 * j02 * cc[2, 2] + SplatConstants.dilation
        let b = j00 * j11 * cc[0, 1] + j00 * j12 * cc[0, 2] + j02 * j11 * cc[2, 1] + j02 * j12 * cc[2, 2]
        let c = j11 * j11 * cc[1, 1] + 2 * j11 * j12 * cc[1, 2] + j12 * j12 * cc[2, 2] + SplatConstants.dilation
        let det = a * c - b * b
        guard det > 0, det.isFinite else { return nil }
        let invDet = 1 / det
        let mx = view.fx * xz + view.cx, my = view.fy * yz + view.cy
        // Box of {σ ≤ ln(255·o)}: beyond it α < 1/255 and the pixel would skip the Gaussian anyway,
        // so the result is exactly that of an untruncated per-pixel loop (gsplat's 3σ square is a
        // tiling artefact). A 0.1% margin keeps the box a superset under Float rounding.
        let sigmaMax = log(255 * g.opacity)
        guard sigmaMax > 0, mx.isFinite, my.isFinite else { return nil }
        let rx = (2.002 * sigmaMax * a).squareRoot() + 1e-3, ry = (2.002 * sigmaMax * c).squareRoot() + 1e-3
        let fw = Double(view.width), fh = Double(view.height)
        // Pixel centres p + 0.5 inside [m − r, m + r]; computed in Double, clamped before Int.
        let x0 = max(0, (mx - rx - 0.5).rounded(.up)), x1 = min(fw - 1, (mx + rx - 0.5).rounded(.down))
        let y0 = max(0, (my - ry - 0.5).rounded(.up)), y1 = min(fh - 1, (my + ry - 0.5).rounded(.down))
        guard x0 <= x1, y0 <= y1 else { return nil }
        trace = ProjectionTrace(tCam: tc, u: u, v: v, xClamped: u != xz, yClamped: v != yz, j: (j00, j02, j11, j12),
                                covCam: cc, cov2d: (a, b, c), conic: (c * invDet, -b * invDet, a * invDet))
        return ProjectedGaussian(meanX: mx, meanY: my, conicA: c * invDet, conicB: -b * invDet, conicC: a * invDet,
                                 depth: z, x0: Int(x0), x1: Int(x1), y0: Int(y0), y1: Int(y1))
    }

    /// Vector-Jacobian product of `project`: from gradients of the 2D mean, conic (a, b, c) and
    /// depth to gradients of the world mean and world covariance (as a full symmetric-matrix
    /// gradient), accumulated into `vMean` and `vCov`.
    @inline(__always)
    static func backward(view: ViewParameters, trace tr: ProjectionTrace,
                         vMean2d: SIMD2<Double>, vConic: SIMD3<Double>, vDepth: Double,
                         vMean: inout SIMD3<Double>, vCov: inout Mat3) {
        let tc = tr.tCam, z = tc.z, iz = 1 / z
        let (fx, fy) = (view.fx, view.fy)
        // mean2d = (fx x/z + cx, fy y/z + cy), with the unclamped x/z.
        var vt = SIMD3<Double>(fx * iz * vMean2d.x, fy * iz * vMean2d.y,
                               -fx * tc.x * iz * iz * vMean2d.x - fy * tc.y * iz * iz * vMean2d.y + vDepth)
        // conic = Σ2d⁻¹. σ uses b once, so as a symmetric matrix the gradient is [[va, vb/2], [vb/2, vc]].
        let (ca, cb, cc) = tr.conic
        let ga = vConic.x, gb = 0.5 * vConic.y, gc = vConic.z
        // V = −C G C (C, G symmetric 2×2).
        let cg00 = ca * ga + cb * gb, cg01 = ca * gb + cb * gc, cg10 = cb * ga + cc * gb, cg11 = cb * gb + cc * gc
        let v00 = -(cg00 * ca + cg01 * cb), v01 = -(cg00 * cb + cg01 * cc), v11 = -(cg10 * cb + cg11 * cc)
        // Σ2d = J Σc Jᵀ + 0.3 I: vΣc = Jᵀ V J, vJ = 2 V J Σc.
        let (j00, j02, j11, j12) = tr.j
        // J as 2×3: row0 = (j00, 0, j02), row1 = (0, j11, j12).
        let jr0 = SIMD3<Double>(j00, 0, j02), jr1 = SIMD3<Double>(0, j11, j12)
        var vCovCam = Mat3.zero
        for i in 0..<3 {
            for k in 0..<3 {
                vCovCam[i, k] = jr0[i] * (v00 * jr0[k] + v01 * jr1[k]) + jr1[i] * (v01 * jr0[k] + v11 * jr1[k])
            }
        }
        let cov = tr.covCam
        // (V J) rows then times Σc: vJ = 2 (V J) Σc; only J00, J02, J11, J12 vary.
        let vj0 = v00 * jr0 + v01 * jr1, vj1 = v01 * jr0 + v11 * jr1
        func rowTimesCov(_ r: SIMD3<Double>, _ col: Int) -> Double { r.x * cov[0, col] + r.y * cov[1, col] + r.z * cov[2, col] }
        let vJ00 = 2 * rowTimesCov(vj0, 0), vJ02 = 2 * rowTimesCov(vj0, 2)
        let vJ11 = 2 * rowTimesCov(vj1, 1), vJ12 = 2 * rowTimesCov(vj1, 2)
        // J00 = fx/z, J02 = −fx u/z with u = clamp(x/z) (du = 0 when clamped).
        vt.z += -fx * iz * iz * vJ00 - fy * iz * iz * vJ11
        vt.z += fx * tr.u * iz * iz * vJ02 + fy * tr.v * iz * iz * vJ12
        if !tr.xClamped {
            // du = dx/z − x dz/z².
            let vu = -fx * iz * vJ02
            vt.x += vu * iz
            vt.z += -vu * tc.x * iz * iz
        }
        if !tr.yClamped {
            let vv = -fy * iz * vJ12
            vt.y += vv * iz
            vt.z += -vv * tc.y * iz * iz
        }
        // Σc = W Σ Wᵀ: vΣ = Wᵀ vΣc W; t = W μ + t0: vμ = Wᵀ vt.
        let w = view.rotation
        let vc = w.transposed * vCovCam * w
        for i in 0..<3 { for k in 0..<3 { vCov[i, k] += vc[i, k] } }
        vMean += view.applyTransposed(vt)
    }

    /// From the world-covariance gradient (symmetric matrix form) to quaternion and log-scale gradients.
    @inline(__always)
    static func covarianceBackward(_ g: ActivatedGaussian, vCov: Mat3) -> (vQuaternion: SIMD4<Double>, vLogScale: SIMD3<Double>) {
        // Σ = M Mᵀ with M = R S: vM = 2 vΣ M (vΣ symmetrised).
        var sym = Mat3.zero
        for i in 0..<3 { for k in 0..<3 { sym[i, k] = 0.5 * (vCov[i, k] + vCov[k, i]) } }
        let r = g.rotation, s = g.scale
        var vR = Mat3.zero
        var vScale = SIMD3<Double>.zero
        for i in 0..<3 {
            for k in 0..<3 {
                // M[i,k] = R[i,k] s_k;  vM[i,k] = 2 Σ_j sym[i,j] M[j,k].
                let vM = 2 * (sym[i, 0] * r[0, k] + sym[i, 1] * r[1, k] + sym[i, 2] * r[2, k]) * s[k]
                vR[i, k] = vM * s[k]
                vScale[k] += vM * r[i, k]
            }
        }
        let vLog = vScale * s * g.scaleClamped
        guard g.qNorm > SplatConstants.minQuaternionNorm, g.qNorm.isFinite else { return (.zero, vLog) }
        let (w, x, y, z) = (g.q[0], g.q[1], g.q[2], g.q[3])
        let vq = SIMD4<Double>(
            2 * (-z * vR[0, 1] + y * vR[0, 2] + z * vR[1, 0] - x * vR[1, 2] - y * vR[2, 0] + x * vR[2, 1]),
            2 * (y * vR[0, 1] + z * vR[0, 2] + y * vR[1, 0] - 2 * x * vR[1, 1] - w * vR[1, 2] + z * vR[2, 0] + w * vR[2, 1] - 2 * x * vR[2, 2]),
            2 * (-2 * y * vR[0, 0] + x * vR[0, 1] + w * vR[0, 2] + x * vR[1, 0] + z * vR[1, 2] - w * vR[2, 0] + z * vR[2, 1] - 2 * y * vR[2, 2]),
            2 * (-2 * z * vR[0, 0] - w * vR[0, 1] + x * vR[0, 2] + w * vR[1, 0] - 2 * z * vR[1, 1] + y * vR[1, 2] + x * vR[2, 0] + y * vR[2, 1]))
        // q̂ = q/|q|: vq = (vq̂ − q̂ (q̂·vq̂)) / |q|.
        let qv = (g.q * vq).sum()
        return ((vq - g.q * qv) / g.qNorm, vLog)
    }
}
