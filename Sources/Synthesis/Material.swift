import Foundation
// Surface materials: Lambert with optional wrap (soft, skin-like falloff) plus Blinn–Phong
// specular, and an optional procedural pattern mixing the vertex albedo with a second colour.

public enum Pattern: UInt8, Codable, CaseIterable, Sendable {
    case none, stripes, checker, dots, noise, marble
}

public struct Material: Sendable {
    public var specular: Float
    public var shininess: Float
    /// Diffuse wrap: 0 is Lambert; larger lets light bleed past the terminator.
    public var wrap: Float
    public var pattern: Pattern
    /// Pattern cells per unit of pattern coordinate.
    public var frequency: Float
    public var secondColour: Vec3
    public var seed: UInt32

    public init(specular: Float = 0.05, shininess: Float = 16, wrap: Float = 0, pattern: Pattern = .none,
                frequency: Float = 4, secondColour: Vec3 = .zero, seed: UInt32 = 0) {
        self.specular = specular; self.shininess = shininess; self.wrap = wrap
        self.pattern = pattern; self.frequency = frequency; self.secondColour = secondColour; self.seed = seed
    }

    /// How much of `secondColour` shows at pattern coordinate `q` (0…1, soft-edged so SSAA resolves it).
    @inline(__always) func patternWeight(_ q: Vec3) -> Float {
        let p = q * frequency
        switch pattern {
        case .none: return 0
        case .stripes:
            let s = sinf(p.z * .pi * 2 + 0.7 * p.x)
            return smoothstep(-0.15, 0.15, s)
        case .checker:
            let s = sinf(p.x * .pi) * sinf(p.y * .pi) * sinf(p.z * .pi + 0.5)
            return smoothstep(-0.1, 0.1, s)
        case .dots:
            let f = Vec3(p.x - p.x.rounded(), p.y - p.y.rounded(), p.z - p.z.rounded())
            return 1 - smoothstep(0.22, 0.3, length(f))
        case .noise:
            return smoothstep(0.35, 0.65, fractalNoise(p, octaves: 3, seed: seed))
        case .marble:
            let n = fractalNoise(p * 0.5, octaves: 3, seed: seed)
            return 0.5 + 0.5 * sinf(p.x * 2 + n * 9)
        }
    }
}

/// A directional light (direction points from the surface toward the light).
public struct DirectionalLight: Codable, Sendable {
    public var direction: Vec3
    public var colour: Vec3
    public init(direction: Vec3, colour: Vec3) { self.direction = normalize(direction); self.colour = colour }
}

/// Hemispherical ambient (sky above, ground below) plus directional key/fill/rim lights, fixed in
/// world space so every view of a subject sees the same illumination.
public struct Lighting: Codable, Sendable {
    public var sky: Vec3
    public var ground: Vec3
    public var lights: [DirectionalLight]
    public init(sky: Vec3, ground: Vec3, lights: [DirectionalLight]) { self.sky = sky; self.ground = ground; self.lights = lights }

    /// Neutral studio light, used by tests and previews.
    public static let studio = Lighting(sky: Vec3(repeating: 0.35), ground: Vec3(repeating: 0.15), lights: [
        DirectionalLight(direction: Vec3(-0.6, -1, 0.8), colour: Vec3(repeating: 0.9)),
        DirectionalLight(direction: Vec3(0.9, -0.5, 0.2), colour: Vec3(repeating: 0.3)),
        DirectionalLight(direction: Vec3(0.2, 1, 0.6), colour: Vec3(repeating: 0.4)),
    ])

    /// Ambient plus a randomised coloured key, fill and rim light. Colour temperatures range
    /// from warm to cool; intensities keep the subject readable (never black, rarely blown out).
    public static func random(_ rng: inout SynthRandom) -> Lighting {
        func tint(_ strength: Float) -> Vec3 {
            let warm = Vec3(1.0, 0.82, 0.62), cool = Vec3(0.68, 0.82, 1.0)
            var c = mix(warm, cool, rng.uniform())
            let hue = Vec3(rng.uniform(), rng.uniform(), rng.uniform())
            c = mix(c, hue, strength * rng.uniform())
            return c / max(c.x, max(c.y, c.z))
        }
        // Light directions use the cameras' azimuth/elevation convention (OrbitRig in Splatting).
        func direction(azimuth: Float, elevation: Float) -> Vec3 {
            let (a, e) = (radians(azimuth), radians(elevation))
            return Vec3(cosf(e) * sinf(a), -cosf(e) * cosf(a), sinf(e))
        }
        let ambient = rng.range(0.18, 0.42)
        let sky = tint(0.3) * ambient, ground = tint(0.3) * ambient * rng.range(0.35, 0.7)
        let keyAz = rng.range(-70, 70), keyEl = rng.range(10, 60)
        let key = DirectionalLight(direction: direction(azimuth: keyAz, elevation: keyEl),
                                   colour: tint(0.25) * rng.range(0.75, 1.15))
        let fill = DirectionalLight(direction: direction(azimuth: keyAz > 0 ? rng.range(-110, -40) : rng.range(40, 110),
                                                         elevation: rng.range(-10, 30)),
                                    colour: tint(0.4) * rng.range(0.15, 0.45))
        let rim = DirectionalLight(direction: direction(azimuth: rng.range(140, 220), elevation: rng.range(10, 60)),
                                   colour: tint(0.6) * rng.range(0.2, 0.8))
        return Lighting(sky: sky, ground: ground, lights: [key, fill, rim])
    }
}

/// What the rasterizer draws: one mesh (normals computed), its materials and the lighting.
public struct Scene: Sendable {
    public var mesh: TriangleMesh
    public var materials: [Material]
    public var lighting: Lighting
    public init(mesh: TriangleMesh, materials: [Material], lighting: Lighting) {
        self.mesh = mesh; self.materials = materials; self.lighting = lighting
    }
}
