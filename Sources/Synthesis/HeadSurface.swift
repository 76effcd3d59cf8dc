import Foundation
// The skin surface of a head as a function of direction: a stretched ellipsoid (skull, jaw
// taper, chin) plus displacement fields for the face — eye sockets and temples pushed in along
// the radius, brow ridge, nose, cheeks, lips, muzzle and chin pushed forward (−y). Features are
// placed in "face coordinates" (X, Z): the horizontal and vertical position, in scene units, of
// the undisplaced point. The eye line is Z = 0; units are about 1/5.3 cm.
//
// Also the colour fields painted on it (skin tone, blush, lips, mouth, brows, stubble), and the
// masks the hair shell uses (scalp and facial hair).

struct HeadSurface {
    let identity: HeadIdentity
    let expression: Expression

    // Skull and jaw.
    let ax: Float, ayFront: Float, ayBack: Float, azTop: Float, azChin: Float, azNape: Float, jawTaper: Float
    // Features (face coordinates).
    let eyeX: Float, eyeZ: Float, eyeRadius: Float
    let browZ: Float
    let noseTipZ: Float, noseTipHeight: Float, noseBridgeHeight: Float, noseWidth: Float
    let mouthZ: Float, mouthHalfWidth: Float, lipFullness: Float, mouthGap: Float
    let chinZ: Float

    init(identity id: HeadIdentity, expression e: Expression) {
        identity = id; expression = e
        ax = 0.415 * (1 + 0.05 * id.skullWidth)
        ayFront = 0.47 * (1 + 0.03 * id.skullLength)
        ayBack = 0.55 * (1 + 0.05 * id.skullLength)
        azTop = 0.61 * (1 + 0.04 * id.skullHeight)
        azChin = 0.58 * (1 + 0.05 * id.chinLength) + 0.05 * e.mouthOpen
        azNape = 0.38
        jawTaper = 0.2 - 0.06 * id.jawWidth
        eyeX = 0.165 * (1 + 0.06 * id.eyeSpacing)
        eyeZ = 0.012 * id.eyeHeight
        eyeRadius = 0.064 * (1 + 0.05 * id.eyeSize)
        browZ = eyeZ + 0.085 + 0.025 * e.browRaise
        noseTipZ = -0.235 - 0.03 * id.noseLength
        noseTipHeight = 0.105 * (1 + 0.15 * id.noseProjection)
        noseBridgeHeight = 0.03 + 0.012 * id.noseBridge
        noseWidth = 0.042 * (1 + 0.15 * id.noseWidth)
        mouthZ = noseTipZ - 0.125 - 0.01 * id.chinLength
        mouthHalfWidth = 0.088 * (1 + 0.08 * id.mouthWidth) * (1 + 0.22 * e.smile - 0.1 * e.mouthOpen)
        lipFullness = 1 + 0.3 * id.lipFullness
        // A broad smile parts the lips enough to show the teeth.
        mouthGap = 0.06 * e.mouthOpen + 0.016 * smoothstep(0.4, 1, e.smile)
        chinZ = mouthZ - 0.16 - 0.03 * id.chinLength - mouthGap
    }

    /// Undisplaced point for direction d (the stretched ellipsoid).
    @inline(__always) func basePoint(_ d: Vec3) -> Vec3 {
        let front = smoothstep(-0.35, 0.35, -d.y)
        let ay = mix(ayBack, ayFront, front)
        let below = smoothstep(0.05, -0.1, d.z)
        let az = mix(azTop, mix(azNape, azChin, smoothstep(-0.2, 0.5, -d.y)), below)
        let taper = 1 - jawTaper * below * max(0, -d.z) * (0.6 + 0.4 * front)
        return Vec3(d.x * ax * taper, d.y * ay, d.z * az)
    }

    /// Height of the upper/lower lip lines at X (the smile lifts the corners).
    @inline(__always) func mouthLine(_ X: Float) -> Float {
        let t = X / mouthHalfWidth
        return mouthZ + expression.smile * 0.045 * t * t
    }

    /// Forward (−y) displacement of the face at (X, Z).
    func forward(_ X: Float, _ Z: Float) -> Float {
        let ax = abs(X)
        var f: Float = 0
        // Nose: a ridge from the bridge to the tip, then the tip falling back to the lip.
        let bridgeZ = eyeZ + 0.03
        let t = clamp01((bridgeZ - Z) / (bridgeZ - noseTipZ))
        let along = Z > noseTipZ ? mix(noseBridgeHeight, noseTipHeight, powf(t, 1.6)) * smoothstep(bridgeZ + 0.05, bridgeZ - 0.02, Z)
            : noseTipHeight * bump(Z - noseTipZ, 0.022)
        let width = mix(0.02, noseWidth * 0.75, t)
        f += along * bump(X, width)
        // Alae (nostril wings) and the columella shadow region.
        f += 0.04 * bump2(ax - noseWidth * 1.05, 0.024, Z - noseTipZ - 0.012, 0.022)
        // Brow ridge and forehead.
        f += 0.022 * (1 + 0.3 * identity.browRidge) * bump(Z - (eyeZ + 0.085), 0.035) * smoothstep(0.32, 0.12, ax)
        f += 0.02 * bump(Z - 0.25, 0.12) * smoothstep(0.35, 0.1, ax)
        // Cheeks, lifted by a smile.
        let cheekZ = -0.13 + 0.02 * identity.cheekboneHeight + 0.03 * expression.smile
        f += (0.035 * (1 + 0.3 * identity.cheekFullness) + 0.015 * expression.smile) * bump2(ax - 0.17, 0.07, Z - cheekZ, 0.07)
        // Muzzle: the mouth region stands out of the ellipsoid.
        f += 0.05 * bump2(X, 0.11, Z - (mouthZ + 0.01), 0.09)
        // Lips.
        let line = mouthLine(X)
        let corner = smoothstep(mouthHalfWidth * 1.1, mouthHalfWidth * 0.6, ax)
        f += 0.018 * lipFullness * corner * bump(Z - (line + 0.013), 0.011)
        f += 0.022 * lipFullness * corner * bump(Z - (line - 0.02 - mouthGap), 0.013)
        // Open mouth: the cavity between the lips.
        if mouthGap > 0 {
            let inside = smoothstep(mouthHalfWidth * 0.95, mouthHalfWidth * 0.7, ax)
                * smoothstep(line - mouthGap - 0.01, line - mouthGap + 0.005, Z) * smoothstep(line + 0.004, line - 0.008, Z)
            f -= 0.07 * inside
        }
        // Groove under the lower lip, then the chin.
        f -= 0.01 * bump2(X, 0.05, Z - (line - 0.055 - mouthGap), 0.015)
        f += 0.03 * (1 + 0.4 * identity.chinProminence) * bump2(X, 0.055, Z - chinZ, 0.045)
        // Eyebrows add a little relief.
        f += 0.004 * browMask(X, Z)
        return f
    }

    /// Radial (inward) displacement: eye sockets and temples.
    func inward(_ X: Float, _ Z: Float) -> Float {
        let ax = abs(X)
        return 0.045 * bump2(ax - eyeX, 0.06, Z - (eyeZ + 0.005), 0.045) + 0.02 * bump2(ax - 0.33, 0.06, Z - 0.1, 0.08)
    }

    /// The skin point for unit direction d (head frame, face toward −y).
    func point(_ d: Vec3) -> Vec3 {
        let b = basePoint(d)
        let front = smoothstep(0.15, 0.55, -d.y)
        if front == 0 { return b }
        let X = b.x, Z = b.z
        return b - d * (inward(X, Z) * front) - Vec3(0, forward(X, Z) * front, 0)
    }

    /// Direction whose undisplaced point has face coordinates (X, Z) on the front.
    func frontDirection(_ X: Float, _ Z: Float) -> Vec3 {
        var d = Vec3(X / ax, -0.8, Z / azTop)
        for _ in 0..<6 {  // fixed-point refinement against the non-linear stretch
            d = normalize(d)
            let b = basePoint(d)
            d = Vec3(d.x + (X - b.x) / ax, d.y, d.z + (Z - b.z) / azTop)
        }
        return normalize(d)
    }

    // MARK: colour masks

    /// 1 on the eyebrows.
    func browMask(_ X: Float, _ Z: Float) -> Float {
        let x = abs(X) - eyeX          // along the brow, outward positive
        if x < -0.085 || x > 0.095 { return 0 }
        let arch = 0.012 * (1 - (x / 0.08) * (x / 0.08))
        let frown = min(0, expression.browRaise) * 0.02 * smoothstep(0.02, -0.08, x)
        let centre = browZ + arch + frown
        let thickness = mix(0.016, 0.006, clamp01((x + 0.085) / 0.18))
        let ends = smoothstep(-0.085, -0.07, x) * smoothstep(0.095, 0.07, x)
        return ends * smoothstep(thickness, thickness * 0.6, abs(Z - centre))
    }

    /// 0 outside the lips, 1 on them.
    func lipMask(_ X: Float, _ Z: Float) -> Float {
        let ax = abs(X)
        if ax > mouthHalfWidth * 1.05 { return 0 }
        let t = ax / mouthHalfWidth
        let shape = max(0, 1 - t * t).squareRoot()
        let line = mouthLine(X)
        let upper = smoothstep(0.003, 0, Z - (line + 0.026 * lipFullness * shape + 0.003)) * smoothstep(-0.002, 0.002, Z - line)
        let lowerTop = line - mouthGap
        let lower = smoothstep(0.002, -0.002, Z - lowerTop) * smoothstep(-0.003, 0, Z - (lowerTop - 0.034 * lipFullness * shape - 0.003))
        return max(upper, lower) * smoothstep(1.05, 0.9, t)
    }

    /// Mouth interior colour weight (dark cavity) and teeth weight when open; the closed lip line.
    func mouthInterior(_ X: Float, _ Z: Float) -> (dark: Float, teeth: Float) {
        let ax = abs(X), line = mouthLine(X)
        if mouthGap <= 0.002 {
            let dark = 0.8 * smoothstep(0.005, 0.0015, abs(Z - line)) * smoothstep(mouthHalfWidth * 1.03, mouthHalfWidth * 0.85, ax)
            return (dark, 0)
        }
        let inside = smoothstep(mouthHalfWidth * 0.98, mouthHalfWidth * 0.85, ax)
            * smoothstep(line - mouthGap - 0.004, line - mouthGap + 0.002, Z) * smoothstep(line + 0.002, line - 0.003, Z)
        let teeth = inside * smoothstep(line - 0.016, line - 0.012, Z) * smoothstep(mouthHalfWidth * 0.75, mouthHalfWidth * 0.55, ax)
        return (inside, teeth)
    }

    /// Facial-hair coverage for a style at (X, Z) of direction d (front weight included).
    func facialHairMask(_ style: FacialHair, _ X: Float, _ Z: Float, _ d: Vec3) -> Float {
        if style == .none { return 0 }
        let ax = abs(X)
        let line = mouthLine(0)
        let lips = lipMask(X, Z)
        let mouthHole = smoothstep(mouthHalfWidth * 1.05, mouthHalfWidth * 0.8, ax)
            * smoothstep(line + 0.012, line, Z) * smoothstep(line - mouthGap - 0.045, line - mouthGap - 0.03, Z)
        let moustache = smoothstep(mouthHalfWidth + 0.035, mouthHalfWidth - 0.005, ax + 0.3 * max(0, Z - line - 0.02))
            * smoothstep(line + 0.005, line + 0.02, Z) * smoothstep(noseTipZ - 0.035, noseTipZ - 0.06, Z)
        let front = smoothstep(-0.2, 0.3, -d.y)
        switch style {
        case .none: return 0
        case .moustache: return moustache * (1 - lips) * front
        case .goatee:
            let chin = smoothstep(0.09, 0.05, ax + 0.25 * max(0, chinZ - 0.03 - Z)) * smoothstep(line, line - 0.02, Z)
                * smoothstep(chinZ - 0.1, chinZ - 0.05, Z)
            return max(moustache, chin) * (1 - lips) * (1 - mouthHole) * front
        case .stubble, .beard:
            // Jaw, chin, upper lip and the sides up to the sideburns; never the lips or the cheeks above.
            let cheekLine = mix(line + 0.04, -0.12, smoothstep(0.05, 0.3, ax))
            let lowFace = smoothstep(cheekLine + 0.015, cheekLine - 0.015, Z) * smoothstep(-0.65, 0.1, -d.y)
            let underChin = smoothstep(0.2, -0.2, d.y) * smoothstep(-0.3, -0.5, d.z)
            return max(max(lowFace, underChin), moustache) * (1 - lips) * (1 - mouthHole)
        }
    }

    /// Scalp-hair coverage at direction d for a style (1 = hair grows here).
    func scalpMask(_ style: HairStyle, _ d: Vec3, _ b: Vec3) -> Float {
        if style == .bald { return 0 }
        let u = abs(atan2f(d.x, -d.y))   // 0 front … π back
        // Hairline height around the head: forehead, temples, sideburns, above the ear, nape.
        let knots: [(Float, Float)]
        switch style {
        case .medium, .long, .curly:
            knots = [(0, 0.33), (0.6, 0.30), (0.95, 0.2), (1.2, -0.12), (1.5, -0.25), (2.2, -0.4), (3.2, -0.45)]
        default:
            knots = [(0, 0.35), (0.55, 0.34), (0.9, 0.26), (1.15, -0.06), (1.32, -0.06), (1.48, 0.1), (1.85, 0.1),
                     (2.2, -0.16), (3.2, -0.36)]
        }
        var z = knots.last!.1
        for k in 1..<knots.count where u < knots[k].0 {
            let (u0, z0) = knots[k - 1], (u1, z1) = knots[k]
            z = mix(z0, z1, smoothstep(0, 1, (u - u0) / (u1 - u0))); break
        }
        return smoothstep(z - 0.012, z + 0.012, b.z)
    }
}
