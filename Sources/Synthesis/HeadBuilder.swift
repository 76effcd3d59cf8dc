import Foundation
// Assembles a head scene: skin, hair shell, eyes, ears, neck, torso and clothing, accessories,
// posed and lit. Everything is built in the head frame (face toward −y, z up, eye line at z = 0)
// and then placed so the eye line sits slightly above the origin the cameras look at.

/// Material slots of a head scene.
enum HeadMaterial: UInt16 {
    case skin = 0, hair, eye, cloth, accessory, lens, trim
}

public struct HeadBuilder {
    public let identity: HeadIdentity
    public let variant: HeadVariant
    /// Mesh resolution multiplier (1 = default; tests use less).
    public var detail: Float = 1

    public init(identity: HeadIdentity, variant: HeadVariant) { self.identity = identity; self.variant = variant }

    /// Vertical placement of the head frame in the world (eye line height).
    static let eyeLineHeight: Float = 0.04
    /// Overall size: the head fills about half the frame height, as in FaceLift's renders.
    static let scale: Float = 1.12
    /// Pivot of the head pose (top of the neck).
    static let neckPivot = Vec3(0, 0.06, -0.42)

    public func build(lighting: Lighting) -> Scene {
        let surface = HeadSurface(identity: identity, expression: variant.expression)
        let hairColour = variant.hairColour.vec3
        let skin = HeadBuilder.skinColour(tone: identity.skinTone + variant.skinToneShift, undertone: identity.skinUndertone)
        let rings = max(24, Int(150 * detail)), segments = max(32, Int(216 * detail))

        var head = TriangleMesh()
        // Skin.
        var skinMesh = sphereGrid(rings: rings, segments: segments) { surface.point($0) }
        paintSkin(&skinMesh, surface: surface, skin: skin, hair: hairColour, rings: rings, segments: segments)
        head.append(skinMesh, material: HeadMaterial.skin.rawValue)
        // Hair (scalp and facial), one offset shell.
        if let hair = hairShell(surface: surface, skinMesh: skinMesh, rings: rings, segments: segments) {
            head.append(hair, material: HeadMaterial.hair.rawValue)
        }
        for extra in hairExtras(surface: surface) { head.append(extra, material: HeadMaterial.hair.rawValue) }
        // Eyes and ears.
        for side: Float in [-1, 1] {
            head.append(eyeball(surface: surface, side: side, skin: skin), material: HeadMaterial.eye.rawValue)
            // Styles whose hairline runs below the ears hide them; an ear would poke through the shell.
            if ![.medium, .long, .curly].contains(variant.hairStyle) {
                head.append(ear(surface: surface, side: side, skin: skin), material: HeadMaterial.skin.rawValue)
            }
        }
        for (part, material) in accessories(surface: surface) { head.append(part, material: material.rawValue) }

        // Pose the head about the top of the neck.
        let pose = Mat3.rotationZ(radians(variant.yaw)) * Mat3.rotationX(radians(-variant.pitch)) * Mat3.rotationY(radians(variant.roll))
        head.transform(.rotating(pose, about: HeadBuilder.neckPivot))

        var body = TriangleMesh()
        for (part, material) in neckAndTorso(skin: skin) { body.append(part, material: material.rawValue) }

        var mesh = TriangleMesh()
        mesh.append(head)
        mesh.append(body)
        mesh.transform(Rigid(translation: Vec3(0, 0, HeadBuilder.eyeLineHeight)))
        for i in mesh.positions.indices { mesh.positions[i] *= HeadBuilder.scale }
        mesh.computeNormals()
        return Scene(mesh: mesh, materials: materials(), lighting: lighting)
    }

    func materials() -> [Material] {
        var m = [Material](repeating: Material(), count: 7)
        m[Int(HeadMaterial.skin.rawValue)] = Material(specular: 0.08, shininess: 14, wrap: 0.35)
        m[Int(HeadMaterial.hair.rawValue)] = Material(specular: 0.12, shininess: 24, wrap: 0.15)
        m[Int(HeadMaterial.eye.rawValue)] = Material(specular: 0.5, shininess: 90, wrap: 0.2)
        m[Int(HeadMaterial.cloth.rawValue)] = Material(specular: 0.02, shininess: 8, wrap: 0.1, pattern: variant.clothingPattern,
                                                       frequency: 9, secondColour: variant.clothingSecondColour.vec3, seed: 17)
        m[Int(HeadMaterial.accessory.rawValue)] = Material(specular: 0.6, shininess: 50)
        m[Int(HeadMaterial.lens.rawValue)] = Material(specular: 0.9, shininess: 120)
        m[Int(HeadMaterial.trim.rawValue)] = Material(specular: 0.03, shininess: 8, wrap: 0.1)
        return m
    }

    /// Skin albedo along a tone scale spanning very light to very dark skin.
    static func skinColour(tone: Float, undertone: Float) -> Vec3 {
        let stops: [Vec3] = [linear(247, 222, 204), linear(234, 192, 160), linear(214, 162, 122), linear(180, 122, 84),
                             linear(136, 88, 58), linear(96, 60, 40), linear(64, 40, 28)]
        let x = clamp01(tone) * Float(stops.count - 1)
        let i = min(Int(x), stops.count - 2)
        let c = mix(stops[i], stops[i + 1], x - Float(i))
        return c * Vec3(1 + 0.04 * undertone, 1 - 0.01 * abs(undertone), 1 - 0.05 * undertone)
    }

    // MARK: skin

    private func paintSkin(_ m: inout TriangleMesh, surface s: HeadSurface, skin: Vec3, hair: Vec3, rings: Int, segments: Int) {
        let seed = UInt32(truncatingIfNeeded: Int(identity.skinTone * 1e6))
        let lips = skin * Vec3(0.7, 0.4, 0.43)
        let brows = hair * 0.7 + Vec3(repeating: 0.004)
        let stubble = mix(skin, hair * 0.6, 0.55)
        let facialStyle = variant.facialHair
        for i in m.positions.indices {
            let d = m.patternCoordinates[i]
            let b = s.basePoint(d)
            let X = b.x, Z = b.z
            let front = smoothstep(0.1, 0.5, -d.y)
            var c = skin * (0.93 + 0.14 * fractalNoise(d * 6, octaves: 3, seed: seed))
            if front > 0 {
                // Blush on cheeks, nose and lips area.
                let blush = 0.5 * bump2(abs(X) - 0.16, 0.06, Z + 0.12, 0.06) + 0.4 * bump2(X, 0.03, Z - s.noseTipZ, 0.03)
                c = mix(c, c * Vec3(1.08, 0.86, 0.86), min(1, blush) * front)
                c = mix(c, lips, s.lipMask(X, Z) * front)
                let mouth = s.mouthInterior(X, Z)
                c = mix(c, linear(60, 20, 22), mouth.dark * front)
                c = mix(c, linear(235, 230, 215), mouth.teeth * front)
                c = mix(c, brows, 0.92 * s.browMask(X, Z) * front)
                // Nostrils.
                let nostril = bump2(abs(X) - s.noseWidth * 0.55, 0.012, s.noseTipZ - 0.02 - Z, 0.007) * smoothstep(0.2, 0.5, -d.y)
                c = mix(c, c * 0.25, min(1, nostril))
            }
            if facialStyle == .stubble || facialStyle == .beard {
                c = mix(c, stubble, 0.6 * s.facialHairMask(.beard, X, Z, d))
            }
            // Scalp under the hair shows through short styles.
            c = mix(c, mix(c, hair, 0.5), 0.8 * s.scalpMask(variant.hairStyle == .bald ? .bald : .buzz, d, b))
            m.albedo[i] = c
        }
        m.occlusion = HeadBuilder.cavityOcclusion(m.positions, rings: rings, segments: segments, strength: 14)
    }

    /// Ambient visibility from concavity: how far each vertex sits below its neighbourhood's
    /// mean distance from the centre (eye sockets, nostrils, mouth corners, ear cups).
    static func cavityOcclusion(_ positions: [Vec3], rings: Int, segments: Int, strength: Float) -> [Float] {
        let rows = rings - 1
        var rho = positions.map { length($0) }
        var blurred = rho
        let radius = 3
        // Separable box blur over the ring grid (wrapping in longitude), twice.
        for _ in 0..<2 {
            var tmp = blurred
            for r in 0..<rows {
                let base = 1 + r * segments
                for j in 0..<segments {
                    var s: Float = 0
                    for k in -radius...radius { s += blurred[base + (j + k + segments) % segments] }
                    tmp[base + j] = s / Float(2 * radius + 1)
                }
            }
            for r in 0..<rows {
                for j in 0..<segments {
                    var s: Float = 0, n: Float = 0
                    for k in -radius...radius where r + k >= 0 && r + k < rows { s += tmp[1 + (r + k) * segments + j]; n += 1 }
                    blurred[1 + r * segments + j] = s / n
                }
            }
        }
        for i in rho.indices { rho[i] = clamp01(1 - strength * max(0, blurred[i] - rho[i])) }
        rho[0] = 1; rho[rho.count - 1] = 1
        return rho
    }

    // MARK: hair

    /// Scalp hair and facial hair as one closed offset of the skin: outside the skin where hair
    /// grows, slightly inside (hidden) elsewhere, so the hairline is a clean edge and nothing cracks.
    private func hairShell(surface s: HeadSurface, skinMesh: TriangleMesh, rings: Int, segments: Int) -> TriangleMesh? {
        let style = variant.hairStyle, facial = variant.facialHair
        if (style == .bald || style == .buzz) && (facial == .none || facial == .stubble) { return nil }
        let colour = variant.hairColour.vec3
        let seed: UInt32 = 977
        let (base, volume): (Float, Float)
        switch style {
        case .bald: (base, volume) = (0, 0)
        case .buzz: (base, volume) = (0.006, 0)
        case .short: (base, volume) = (0.035, 0.025)
        case .medium: (base, volume) = (0.05, 0.03)
        case .long, .ponytail: (base, volume) = (0.04, 0.025)
        case .bun: (base, volume) = (0.03, 0.015)
        case .curly: (base, volume) = (0.075, 0.06)
        }
        let beardThickness: Float = facial == .beard ? 0.016 : (facial == .moustache || facial == .goatee ? 0.014 : 0)
        var m = skinMesh
        for i in m.positions.indices {
            let d = m.patternCoordinates[i]
            let p = skinMesh.positions[i], b = s.basePoint(d)
            let scalp = s.scalpMask(style, d, b)
            let beard = beardThickness > 0 ? s.facialHairMask(facial, b.x, b.z, d) : 0
            // Clumps: slow thickness variation so the silhouette is not a smooth helmet.
            let clumps = 0.65 + 0.7 * fractalNoise(d * 5 + Vec3(repeating: 3), octaves: 2, seed: seed &+ 1)
            var t = scalp * (base + volume * smoothstep(-0.2, 0.5, b.z)) * clumps
            if style == .curly { t += scalp * 0.045 * fractalNoise(d * 9, octaves: 2, seed: seed) }
            if style == .medium { t += scalp * 0.07 * smoothstep(0.05, -0.35, b.z) * smoothstep(0.3, -0.2, -d.y) }
            t = max(t, beard * beardThickness * (0.6 + 0.4 * smoothstep(-0.25, -0.45, b.z)))
            let covered = max(scalp, beard)
            let offset = t - (1 - covered) * 0.012 - 0.002
            m.positions[i] = p + normalize(p) * offset
            // Strands run along meridians: streak noise varies around the vertical axis.
            let lon = atan2f(d.y, d.x)
            let streak = valueNoise(Vec3(lon * 38, d.z * 4, 0), seed: seed) * 0.6 + valueNoise(Vec3(lon * 110, d.z * 9, 3), seed: seed) * 0.4
            m.albedo[i] = colour * (0.65 + 0.6 * streak)
            m.occlusion[i] = 0.75 + 0.25 * smoothstep(-0.3, 0.6, b.z)
        }
        return m
    }

    /// Pieces of hair beyond the shell: the fall of long hair, a bun, a ponytail.
    private func hairExtras(surface s: HeadSurface) -> [TriangleMesh] {
        let colour = variant.hairColour.vec3
        func painted(_ m: TriangleMesh, streaks: Float) -> TriangleMesh {
            var m = m
            m.albedo = m.patternCoordinates.map { d in
                colour * (0.65 + 0.6 * valueNoise(Vec3(atan2f(d.y, d.x) * streaks, d.z * 3, 5), seed: 31))
            }
            m.occlusion = m.patternCoordinates.map { 0.7 + 0.3 * smoothstep(-1, 1, $0.z) }
            return m
        }
        switch variant.hairStyle {
        case .long:
            // A thick fall behind the neck, wrapping forward at the sides, resting on the shoulders.
            var fall = superellipsoid(radii: Vec3(s.ax * 1.05, 0.14, 0.42), horizontal: 2.5, vertical: 3, rings: 32, segments: 48)
            for i in fall.positions.indices {
                var p = fall.positions[i]
                let x = p.x / (s.ax * 1.05)
                p.y -= 0.32 * x * x * (0.4 + 0.6 * smoothstep(0.4, -0.4, p.z / 0.42))
                p.x *= 1 + 0.15 * smoothstep(0.2, -1, p.z / 0.42)
                fall.positions[i] = p + Vec3(0, 0.30, -0.48)
            }
            return [painted(fall, streaks: 30)]
        case .bun:
            return [painted(sphere(centre: Vec3(0, 0.5, 0.38), radius: 0.14, rings: 16, segments: 24), streaks: 20)]
        case .ponytail:
            var tail = superellipsoid(radii: Vec3(0.075, 0.07, 0.3), rings: 16, segments: 24)
            tail.transform(Rigid(rotation: .rotationX(-0.25), translation: Vec3(0, 0.6, -0.2)))
            return [painted(tail, streaks: 24), painted(sphere(centre: Vec3(0, 0.58, 0.08), radius: 0.06), streaks: 12)]
        default:
            return []
        }
    }

    // MARK: eyes and ears

    /// Eyeball with sclera, iris, pupil and skin-coloured lids whose opening follows the expression.
    private func eyeball(surface s: HeadSurface, side: Float, skin: Vec3) -> TriangleMesh {
        let X = side * s.eyeX, Z = s.eyeZ
        let surfacePoint = s.point(s.frontDirection(X, Z))
        let r = s.eyeRadius
        let centre = Vec3(X, surfacePoint.y + r - 0.02, Z + 0.004)
        var m = sphere(centre: centre, radius: r, rings: 24, segments: 32)
        let iris = identity.irisColour.vec3
        let open = 1 - variant.expression.eyeClosure
        let lid = skin * Vec3(0.92, 0.85, 0.84)
        for i in m.positions.indices {
            let e = m.patternCoordinates[i]          // unit direction from the eye centre
            let gaze = -e.y                          // 1 straight ahead
            let ex = e.x * side, ez = e.z
            let radial = (e.x * e.x + e.z * e.z).squareRoot()
            var c = linear(235, 230, 225)
            if gaze > 0 {
                c = mix(c, iris * (0.7 + 0.5 * radial / 0.45), smoothstep(0.47, 0.43, radial))
                c = mix(c, linear(10, 8, 8), smoothstep(0.2, 0.17, radial))
            }
            // Almond-shaped opening: upper lid higher, lower lid flatter, inner corner lower.
            let across = clamp01(1 - (ex / 0.95) * (ex / 0.95))
            let upper = (0.58 * open - 0.06) * across.squareRoot() + 0.04 * ex
            let lower = -0.4 * across.squareRoot() * (0.6 + 0.4 * open)
            var lidWeight = smoothstep(upper - 0.02, upper + 0.02, ez) + smoothstep(lower + 0.02, lower - 0.02, ez)
            if gaze < 0.25 { lidWeight = 1 }
            lidWeight = min(1, lidWeight)
            // Lash line along the upper lid.
            let lash = smoothstep(0.06, 0.0, abs(ez - upper)) * smoothstep(0.15, 0.35, gaze)
            c = mix(c, lid, lidWeight)
            c = mix(c, linear(25, 18, 15), 0.85 * lash)
            m.albedo[i] = c
            m.occlusion[i] = lidWeight > 0.5 ? 0.85 : 0.7
        }
        return m
    }

    /// An ear: a thin rounded plate with a cupped outer face, tilted back and out from the head.
    private func ear(surface s: HeadSurface, side: Float, skin: Vec3) -> TriangleMesh {
        let size = 1 + 0.07 * identity.earSize
        let h: Float = 0.1 * size, w: Float = 0.058 * size, t: Float = 0.018
        var m = superellipsoid(radii: Vec3(t, w, h), horizontal: 2.2, vertical: 2.2, rings: 20, segments: 28)
        for i in m.positions.indices {
            var p = m.positions[i]
            let d = m.patternCoordinates[i]
            // Lobe narrower than the top; cup pressed into the outer face.
            p.y *= 0.7 + 0.3 * smoothstep(-0.7, 0.2, d.z)
            let cup = bump2(d.y + 0.1, 0.35, d.z + 0.05, 0.45)
            if d.x > 0 { p.x -= 0.024 * cup * d.x }
            m.positions[i] = p
            m.occlusion[i] = d.x > 0 ? 1 - 0.55 * cup : 0.85
            m.albedo[i] = skin * Vec3(1.04, 0.9, 0.88)
        }
        // Tilt back, turn the back edge out from the head, then mirror for the right ear.
        let flare = radians(14 + 8 * identity.earProtrusion)
        let r = Mat3.rotationZ(flare) * Mat3.rotationY(radians(-12))
        let anchor = s.point(normalize(Vec3(1, 0.08, -0.05)))
        m.transform(Rigid(rotation: r, translation: Vec3(anchor.x + 0.004, anchor.y + 0.05, -0.07)))
        if side < 0 { m = m.mirroredX() }
        return m
    }

    // MARK: body, clothing and accessories

    private func neckAndTorso(skin: Vec3) -> [(TriangleMesh, HeadMaterial)] {
        let cloth = variant.clothingColour.vec3, second = variant.clothingSecondColour.vec3
        let neckRadius = 0.175 * (1 + 0.08 * identity.neckWidth)
        var neck = superellipsoid(radii: Vec3(neckRadius, neckRadius * 0.95, 0.45), horizontal: 2, vertical: 2.6,
                                  rings: 24, segments: 40)
        neck.transform(Rigid(translation: Vec3(0, 0.08, -0.66)))
        neck.albedo = neck.positions.map { _ in skin * 0.92 }
        neck.occlusion = neck.positions.map { 0.55 + 0.45 * smoothstep(-0.35, -0.75, $0.z) }

        let shoulder = 0.92 * (1 + 0.06 * identity.shoulderWidth)
        var torso = superellipsoid(radii: Vec3(shoulder, 0.3, 0.72), horizontal: 2.4, vertical: 2.6, rings: 48, segments: 72)
        torso.transform(Rigid(translation: Vec3(0, 0.1, -1.45)))
        torso.patternCoordinates = torso.positions
        torso.albedo = torso.positions.map { p in
            guard variant.clothing == .vNeck || variant.clothing == .collared else { return cloth }
            // Soft-edged V so the coarse torso mesh interpolates a smooth neckline.
            let inside = smoothstep(-0.025, 0.025, (p.z + 1.05) * 0.55 - abs(p.x)) * smoothstep(0.1, -0.05, p.y)
            return mix(cloth, skin * 0.92, inside)
        }
        torso.occlusion = torso.positions.map { p in 0.75 + 0.25 * smoothstep(0, 0.4, length(Vec3(p.x, 0, 0))) }
        var parts: [(TriangleMesh, HeadMaterial)] = [(neck, .skin), (torso, .cloth)]
        switch variant.clothing {
        case .crewNeck:
            var collar = torus(major: neckRadius + 0.01, minor: 0.03, majorSegments: 40, minorSegments: 10)
            collar.transform(Rigid(translation: Vec3(0, 0.08, -0.76)))
            collar.paint(cloth * 0.9)
            parts.append((collar, .trim))
        case .turtleneck:
            var roll = superellipsoid(radii: Vec3(neckRadius + 0.03, neckRadius * 0.95 + 0.03, 0.2), horizontal: 2, vertical: 3,
                                      rings: 16, segments: 40)
            roll.transform(Rigid(translation: Vec3(0, 0.08, -0.72)))
            roll.paint(cloth)
            roll.patternCoordinates = roll.positions
            parts.append((roll, .cloth))
        case .collared:
            for side: Float in [-1, 1] {
                var flap = superellipsoid(radii: Vec3(0.1, 0.015, 0.06), horizontal: 4, vertical: 4, rings: 8, segments: 16)
                flap.transform(Rigid(rotation: .rotationY(side * 0.6), translation: Vec3(side * 0.12, -0.17, -0.9)))
                flap.paint(second)
                parts.append((flap, .trim))
            }
        case .vNeck:
            break
        }
        return parts
    }

    private func accessories(surface s: HeadSurface) -> [(TriangleMesh, HeadMaterial)] {
        var parts: [(TriangleMesh, HeadMaterial)] = []
        let colour = variant.accessoryColour.vec3
        for accessory in variant.accessories {
            switch accessory {
            case .glasses, .sunglasses:
                let front = s.point(s.frontDirection(s.eyeX, s.eyeZ)).y - 0.05
                for side: Float in [-1, 1] {
                    var rim = torus(major: 0.062, minor: 0.006, majorSegments: 28, minorSegments: 6)
                    for i in rim.positions.indices { rim.positions[i].y *= 0.8 }
                    rim.transform(Rigid(rotation: .rotationX(.pi / 2), translation: Vec3(side * s.eyeX, front, s.eyeZ)))
                    rim.paint(colour)
                    parts.append((rim, .accessory))
                    let ear = s.point(normalize(Vec3(side, 0.05, -0.02)))
                    var arm = rod(from: Vec3(side * (s.eyeX + 0.062), front + 0.01, s.eyeZ + 0.01),
                                  to: Vec3(ear.x + side * 0.012, 0.04, s.eyeZ - 0.02), radius: 0.0055)
                    arm.paint(colour)
                    parts.append((arm, .accessory))
                    if accessory == .sunglasses {
                        var lens = superellipsoid(radii: Vec3(0.068, 0.004, 0.054), horizontal: 2.5, vertical: 2.5, rings: 10, segments: 20)
                        lens.transform(Rigid(translation: Vec3(side * s.eyeX, front + 0.002, s.eyeZ)))
                        lens.paint(linear(18, 18, 22))
                        parts.append((lens, .lens))
                    }
                }
                var bridge = rod(from: Vec3(-s.eyeX + 0.062, front, s.eyeZ + 0.015), to: Vec3(s.eyeX - 0.062, front, s.eyeZ + 0.015),
                                 radius: 0.006)
                bridge.paint(colour)
                parts.append((bridge, .accessory))
            case .earrings, .hoopEarrings:
                for side: Float in [-1, 1] {
                    let ear = s.point(normalize(Vec3(side, 0.08, -0.05)))
                    let lobe = Vec3(ear.x + side * 0.02, ear.y + 0.035, -0.16)
                    var piece: TriangleMesh
                    if accessory == .earrings {
                        piece = sphere(centre: lobe + Vec3(0, 0, -0.02), radius: 0.014, rings: 8, segments: 12)
                    } else {
                        piece = torus(major: 0.03, minor: 0.004, majorSegments: 24, minorSegments: 6)
                        piece.transform(Rigid(rotation: .rotationY(.pi / 2), translation: lobe + Vec3(0, 0, -0.03)))
                    }
                    piece.paint(colour)
                    parts.append((piece, .accessory))
                }
            }
        }
        return parts
    }
}

extension TriangleMesh {
    /// The mirror image across x = 0, rewound so it still faces outward.
    func mirroredX() -> TriangleMesh {
        var m = self
        for i in m.positions.indices { m.positions[i].x = -m.positions[i].x }
        for i in m.normals.indices { m.normals[i].x = -m.normals[i].x }
        m.triangles = m.triangles.map { SIMD3($0.x, $0.z, $0.y) }
        return m
    }
}
