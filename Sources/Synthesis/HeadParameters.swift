import Foundation
// The parameters of one synthetic head. An identity fixes the face and skull shape, ears, eye
// colour and base skin tone; a variant (of an identity) fixes everything that changes between
// FaceLift's "appearance variants": expression, hair, facial hair, skin-tone shift, clothing,
// accessories, head pose and lighting. Both are drawn from counter-based generators keyed by
// (seed, identity[, variant]), and both are written to meta.json.

/// Face and skull shape, as dimensionless offsets around an average head (0 = average,
/// typically within ±1), plus identity-level colours.
public struct HeadIdentity: Codable, Sendable, Equatable {
    public var skullWidth: Float, skullLength: Float, skullHeight: Float
    public var jawWidth: Float, chinLength: Float, chinProminence: Float
    public var cheekFullness: Float, cheekboneHeight: Float
    public var noseLength: Float, noseWidth: Float, noseProjection: Float, noseBridge: Float
    public var browRidge: Float, eyeSpacing: Float, eyeSize: Float, eyeHeight: Float
    public var mouthWidth: Float, lipFullness: Float
    public var earSize: Float, earProtrusion: Float
    public var neckWidth: Float, shoulderWidth: Float
    /// Position along the skin-tone scale, 0 (lightest) … 1 (darkest).
    public var skinTone: Float
    /// Undertone: −1 olive/yellow … +1 pink/red.
    public var skinUndertone: Float
    public var irisColour: [Float]

    public static func random(_ r: inout SynthRandom) -> HeadIdentity {
        let irises: [Vec3] = [linear(70, 45, 25), linear(110, 70, 35), linear(60, 100, 150), linear(80, 120, 80),
                              linear(40, 30, 25), linear(120, 110, 90), linear(90, 130, 160)]
        let iris = r.pick(irises) * r.range(0.8, 1.2)
        return HeadIdentity(
            skullWidth: r.normal(0, 0.5), skullLength: r.normal(0, 0.5), skullHeight: r.normal(0, 0.5),
            jawWidth: r.normal(0, 0.6), chinLength: r.normal(0, 0.5), chinProminence: r.normal(0, 0.6),
            cheekFullness: r.normal(0, 0.6), cheekboneHeight: r.normal(0, 0.5),
            noseLength: r.normal(0, 0.6), noseWidth: r.normal(0, 0.6), noseProjection: r.normal(0, 0.6),
            noseBridge: r.normal(0, 0.6),
            browRidge: r.normal(0, 0.6), eyeSpacing: r.normal(0, 0.5), eyeSize: r.normal(0, 0.5),
            eyeHeight: r.normal(0, 0.5),
            mouthWidth: r.normal(0, 0.5), lipFullness: r.normal(0, 0.6),
            earSize: r.normal(0, 0.5), earProtrusion: r.normal(0, 0.6),
            neckWidth: r.normal(0, 0.5), shoulderWidth: r.normal(0, 0.5),
            skinTone: powf(r.uniform(), 0.9), skinUndertone: r.range(-1, 1),
            irisColour: [iris.x, iris.y, iris.z])
    }
}

public enum HairStyle: String, Codable, CaseIterable, Sendable {
    case bald, buzz, short, medium, long, bun, curly, ponytail
}

public enum FacialHair: String, Codable, CaseIterable, Sendable {
    case none, stubble, moustache, goatee, beard
}

public enum Clothing: String, Codable, CaseIterable, Sendable {
    case crewNeck, vNeck, turtleneck, collared
}

public struct Expression: Codable, Sendable, Equatable {
    public var smile: Float        // 0…1
    public var mouthOpen: Float    // 0…1
    public var browRaise: Float    // −1 (frown) … 1 (surprise)
    public var eyeClosure: Float   // 0 open … 1 closed

    public static let neutral = Expression(smile: 0, mouthOpen: 0, browRaise: 0, eyeClosure: 0)

    public static func random(_ r: inout SynthRandom) -> Expression {
        switch r.weighted([3, 3, 1.5, 1, 1, 1]) {
        case 0: return .neutral
        case 1: return Expression(smile: r.range(0.4, 1), mouthOpen: r.chance(0.4) ? r.range(0.1, 0.4) : 0,
                                  browRaise: r.range(0, 0.3), eyeClosure: r.range(0, 0.3))
        case 2: return Expression(smile: r.range(0, 0.3), mouthOpen: r.range(0.4, 1), browRaise: r.range(0.3, 1),
                                  eyeClosure: 0)
        case 3: return Expression(smile: 0, mouthOpen: 0, browRaise: r.range(-1, -0.4), eyeClosure: r.range(0, 0.3))
        case 4: return Expression(smile: r.range(0, 0.5), mouthOpen: 0, browRaise: 0, eyeClosure: 1)
        default: return Expression(smile: r.range(0, 0.2), mouthOpen: r.range(0.1, 0.5), browRaise: r.range(0, 0.5),
                                   eyeClosure: r.range(0, 0.4))
        }
    }
}

public enum Accessory: String, Codable, Sendable {
    case glasses, sunglasses, earrings, hoopEarrings
}

/// One appearance variant of an identity.
public struct HeadVariant: Codable, Sendable {
    public var expression: Expression
    public var hairStyle: HairStyle
    public var hairColour: [Float]
    public var facialHair: FacialHair
    /// Added to the identity's skin tone (tanning, lighting of the capture…).
    public var skinToneShift: Float
    public var clothing: Clothing
    public var clothingColour: [Float]
    public var clothingSecondColour: [Float]
    public var clothingPattern: Pattern
    public var accessories: [Accessory]
    public var accessoryColour: [Float]
    /// Head pose in degrees: yaw (turn), pitch (nod, + up), roll (tilt).
    public var yaw: Float, pitch: Float, roll: Float

    public static func random(_ r: inout SynthRandom) -> HeadVariant {
        let hairPalette: [Vec3] = [linear(20, 15, 12), linear(45, 30, 20), linear(80, 55, 35), linear(120, 85, 50),
                                   linear(170, 130, 80), linear(215, 185, 130), linear(140, 60, 30),
                                   linear(110, 105, 100), linear(200, 200, 195), linear(60, 40, 30)]
        let hair = r.pick(hairPalette) * r.range(0.85, 1.15)
        let style = HairStyle.allCases[r.weighted([1, 1.2, 2.5, 1.5, 2, 1, 1.2, 1])]
        let facial = FacialHair.allCases[r.weighted([5, 1.5, 0.8, 0.8, 1.2])]
        let clothes = Clothing.allCases[r.weighted([3, 2, 1, 1.5])]
        let cloth = r.colour(Vec3(0.02, 0.02, 0.02), Vec3(0.8, 0.8, 0.8))
        let cloth2 = r.chance(0.5) ? Vec3(repeating: r.range(0.6, 0.9)) : r.colour(.zero, Vec3(0.8, 0.8, 0.8))
        let pattern: Pattern = [Pattern.none, .none, .none, .stripes, .checker, .dots, .noise][r.int(below: 7)]
        var accessories: [Accessory] = []
        if r.chance(0.22) { accessories.append(r.chance(0.75) ? .glasses : .sunglasses) }
        if r.chance(0.2) { accessories.append(r.chance(0.5) ? .earrings : .hoopEarrings) }
        let metal = [linear(200, 170, 90), linear(190, 190, 195), linear(30, 30, 30), linear(110, 60, 30)]
        let acc = r.pick(metal)
        return HeadVariant(
            expression: .random(&r), hairStyle: style, hairColour: [hair.x, hair.y, hair.z],
            facialHair: facial, skinToneShift: r.normal(0, 0.06), clothing: clothes,
            clothingColour: [cloth.x, cloth.y, cloth.z], clothingSecondColour: [cloth2.x, cloth2.y, cloth2.z],
            clothingPattern: pattern, accessories: accessories, accessoryColour: [acc.x, acc.y, acc.z],
            yaw: r.normal(0, 6), pitch: r.normal(0, 4), roll: r.normal(0, 3))
    }
}

extension Array where Element == Float {
    var vec3: Vec3 { Vec3(self[0], self[1], self[2]) }
}
