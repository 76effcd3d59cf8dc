import Foundation

// General objects for reconstructor pre-training (FaceLift pre-trains on Objaverse): composites
// of 1–6 primitives — superquadrics (spheres, boxes, cylinders, pillows), tapered superquadrics
// (cones, frusta) and tori — each with its own colour, procedural pattern and glossiness,
// attached to one another so the composite is one connected object, scaled to fit the rig.

public enum PrimitiveKind: String, Codable, Sendable {
    case superquadric, tapered, torus
}

public struct PrimitiveSpec: Codable, Sendable {
    public var kind: PrimitiveKind
    /// Semi-axes (superquadrics) or (major, minor, unused) for tori.
    public var size: [Float]
    public var horizontalExponent: Float, verticalExponent: Float
    /// Tapered: top radius as a fraction of the bottom's.
    public var taper: Float
    /// Euler angles (radians, z·x·y order) and centre.
    public var rotation: [Float]
    public var centre: [Float]
    public var colour: [Float], secondColour: [Float]
    public var pattern: Pattern
    public var frequency: Float
    public var specular: Float, shininess: Float
}

public struct ObjectParameters: Codable, Sendable {
    public var primitives: [PrimitiveSpec]
    /// Uniform scale applied after assembly so the object fits a sphere of radius `ObjectBuilder.fitRadius`.
    public var scale: Float
    public var offset: [Float]

    public static func random(_ r: inout SynthRandom) -> ObjectParameters {
        let count = 1 + r.weighted([1.5, 2, 2, 1.5, 1, 1])
        var specs: [PrimitiveSpec] = []
        var anchors: [Vec3] = [.zero]
        let palette: [Vec3] = [linear(200, 40, 40), linear(40, 120, 200), linear(230, 190, 40), linear(40, 160, 80),
                               linear(230, 230, 225), linear(30, 30, 35), linear(150, 90, 50), linear(160, 80, 180),
                               linear(240, 130, 40), linear(120, 120, 125)]
        for i in 0..<count {
            let kind: PrimitiveKind = [.superquadric, .superquadric, .tapered, .torus][r.weighted([3, 1, 1.5, 1])]
            let scale: Float = i == 0 ? r.range(0.3, 0.55) : r.range(0.12, 0.4)
            let size: [Float]
            switch kind {
            case .torus: size = [scale, scale * r.range(0.15, 0.4), 0]
            default: size = [scale * r.range(0.5, 1.3), scale * r.range(0.5, 1.3), scale * r.range(0.5, 1.6)]
            }
            let exps: [Float] = [2, 2, 3, 6, 10]
            let colour = r.chance(0.7) ? r.pick(palette) * r.range(0.7, 1.1) : r.colour(Vec3(0.02, 0.02, 0.02), Vec3(0.9, 0.9, 0.9))
            let second = r.chance(0.5) ? r.pick(palette) : colour * r.range(0.2, 0.6)
            let glossy = r.chance(0.4)
            let anchor = r.pick(anchors) + (i == 0 ? .zero : Vec3(r.normal(0, 0.25), r.normal(0, 0.25), r.normal(0, 0.25)))
            specs.append(PrimitiveSpec(
                kind: kind, size: size, horizontalExponent: r.pick(exps), verticalExponent: r.pick(exps),
                taper: r.range(0, 0.8), rotation: [r.range(0, 2 * .pi), r.range(0, 2 * .pi), r.range(0, 2 * .pi)],
                centre: [anchor.x, anchor.y, anchor.z], colour: [colour.x, colour.y, colour.z],
                secondColour: [second.x, second.y, second.z],
                pattern: Pattern.allCases[r.weighted([3, 1, 1, 1, 1, 1])], frequency: r.range(1.5, 6),
                specular: glossy ? r.range(0.3, 0.9) : r.range(0, 0.1), shininess: glossy ? r.range(30, 120) : r.range(5, 20)))
            anchors.append(anchor)
        }
        return ObjectParameters(primitives: specs, scale: 1, offset: [0, 0, 0])
    }
}

public enum ObjectBuilder {
    /// Objects are scaled to fit a sphere of this radius around the origin (the rig's target).
    public static let fitRadius: Float = 0.85

    /// Builds the scene; returns the parameters with the fitted scale and offset filled in.
    public static func build(_ params: ObjectParameters, lighting: Lighting, detail: Float = 1) -> (Scene, ObjectParameters) {
        var mesh = TriangleMesh()
        var materials: [Material] = []
        for (i, p) in params.primitives.enumerated() {
            var part = primitive(p, detail: detail)
            part.transform(Rigid(rotation: Mat3.rotationZ(p.rotation[0]) * Mat3.rotationX(p.rotation[1]) * Mat3.rotationY(p.rotation[2]),
                                 translation: p.centre.vec3))
            part.paint(p.colour.vec3)
            mesh.append(part, material: UInt16(i))
            materials.append(Material(specular: p.specular, shininess: p.shininess, pattern: p.pattern, frequency: p.frequency,
                                      secondColour: p.secondColour.vec3, seed: UInt32(i) &* 7 &+ 3))
        }
        // Fit: centre the bounding box, scale the farthest vertex to `fitRadius`.
        let (lo, hi) = mesh.bounds
        let centre = (lo + hi) / 2
        var far: Float = 1e-6
        for p in mesh.positions { far = max(far, length(p - centre)) }
        let scale = fitRadius / far
        for i in mesh.positions.indices { mesh.positions[i] = (mesh.positions[i] - centre) * scale }
        mesh.computeNormals()
        var fitted = params
        fitted.scale = scale
        fitted.offset = [-centre.x * scale, -centre.y * scale, -centre.z * scale]
        return (Scene(mesh: mesh, materials: materials, lighting: lighting), fitted)
    }

    static func primitive(_ p: PrimitiveSpec, detail: Float) -> TriangleMesh {
        let rings = max(8, Int(40 * detail)), segments = max(12, Int(56 * detail))
        switch p.kind {
        case .superquadric:
            return superellipsoid(radii: p.size.vec3, horizontal: p.horizontalExponent, vertical: p.verticalExponent,
                                  rings: rings, segments: segments)
        case .tapered:
            var m = superellipsoid(radii: p.size.vec3, horizontal: p.horizontalExponent, vertical: p.verticalExponent,
                                   rings: rings, segments: segments)
            let h = p.size[2]
            for i in m.positions.indices {
                let t = (m.positions[i].z / h + 1) / 2       // 0 bottom … 1 top
                let s = 1 - (1 - p.taper) * t
                m.positions[i].x *= s; m.positions[i].y *= s
            }
            return m
        case .torus:
            return torus(major: p.size[0], minor: p.size[1], majorSegments: max(16, Int(48 * detail)),
                         minorSegments: max(8, Int(20 * detail)))
        }
    }
}
