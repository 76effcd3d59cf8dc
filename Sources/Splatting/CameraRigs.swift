import Foundation
import Tensors

/// Orbit rigs around the origin (world z up), FaceLift's defaults: radius 2.7, 50° field of view.
///
/// Azimuth a and elevation e put the camera at r·(cos e·sin a, −cos e·cos a, sin e), looking at
/// the origin with world z up in the image. A head faces −y, so azimuth 0 is the front camera at
/// (0, −r, 0) looking along +y; azimuth grows counter-clockwise seen from above (a right-handed
/// turn about +z): 90° sits at (+r, 0, 0) and sees the subject's left side, 180° the back of the
/// head, 270° the subject's right side. Elevation lifts the camera towards +z. Intrinsics scale
/// with the image size (fx = fy = (width/2)/tan(fov/2), principal point at the image centre).
/// Synthesized data (`data-tools synth`) is rendered with exactly these cameras.
public enum OrbitRig {
    public static let defaultRadius = 2.7
    public static let defaultFieldOfViewDegrees = 50.0
    /// The diffusion model's six views: front plus these azimuths, at 0° elevation.
    public static let diffusionAzimuthsDegrees: [Double] = [0, 45, 90, 180, 270, 315]
    /// Views of the 0°-elevation ring the diffusion model trains on: 45° apart from the front, so
    /// that any of them can be the condition azimuth α and all six α + `diffusionAzimuthsDegrees` exist.
    public static let ringViewCount = 8
    public static var ringStepDegrees: Double { 360 / Double(ringViewCount) }

    /// One camera on the orbit.
    public static func camera(azimuthDegrees: Double, elevationDegrees: Double, radius: Double = defaultRadius,
                              width: Int, height: Int, fieldOfViewDegrees: Double = defaultFieldOfViewDegrees) -> Camera {
        let a = azimuthDegrees * .pi / 180, e = elevationDegrees * .pi / 180
        let position = SIMD3<Double>(sin(a) * cos(e), -cos(a) * cos(e), sin(e)) * radius
        return Camera(lookingFrom: position, width: width, height: height, fieldOfView: fieldOfViewDegrees * .pi / 180)
    }

    /// The 6-view diffusion rig: 0° elevation, azimuths front + {0, 45, 90, 180, 270, 315}°.
    public static func diffusion(size: Int, radius: Double = defaultRadius,
                                 fieldOfViewDegrees: Double = defaultFieldOfViewDegrees) -> [Camera] {
        diffusionAzimuthsDegrees.map {
            camera(azimuthDegrees: $0, elevationDegrees: 0, radius: radius, width: size, height: size,
                   fieldOfViewDegrees: fieldOfViewDegrees)
        }
    }

    /// The reconstructor's supervision rig: `count` views (32 by default) at 20° elevation,
    /// 360°/count apart (11.25° for 32), starting at the front.
    public static func reconstruction(size: Int, count: Int = 32, elevationDegrees: Double = 20,
                                      radius: Double = defaultRadius,
                                      fieldOfViewDegrees: Double = defaultFieldOfViewDegrees) -> [Camera] {
        (0..<count).map {
            camera(azimuthDegrees: Double($0) * 360 / Double(count), elevationDegrees: elevationDegrees, radius: radius,
                   width: size, height: size, fieldOfViewDegrees: fieldOfViewDegrees)
        }
    }

    /// `count` views at uniformly random azimuths in [0, 360)° and elevations in `elevationRange`.
    public static func random(count: Int, size: Int, elevationRangeDegrees: ClosedRange<Double> = -20...40,
                              radius: Double = defaultRadius, fieldOfViewDegrees: Double = defaultFieldOfViewDegrees,
                              rng: inout Philox) -> [Camera] {
        (0..<count).map { _ in
            let azimuth = Double(rng.uniform()) * 360
            let span = elevationRangeDegrees.upperBound - elevationRangeDegrees.lowerBound
            let elevation = elevationRangeDegrees.lowerBound + Double(rng.uniform()) * span
            return camera(azimuthDegrees: azimuth, elevationDegrees: elevation, radius: radius, width: size,
                          height: size, fieldOfViewDegrees: fieldOfViewDegrees)
        }
    }
}

extension OrbitRig {
    /// A rig by name, as chosen on command lines and recorded in a subject's `meta.json`.
    public enum Preset: String, CaseIterable, Codable, Sendable {
        /// Six views at 0° elevation, azimuths front + {0, 45, 90, 180, 270, 315}°.
        case diffusion
        /// Thirty-two views at 20° elevation, 11.25° apart starting at the front.
        case reconstructor
        /// Eight views at 0° elevation, 45° apart starting at the front: the diffusion model's
        /// training ring (any view can be the condition, all six targets exist).
        case ring8
        /// `ring8`'s eight views (files 0–7) followed by `reconstructor`'s thirty-two (files 8–39):
        /// both rigs per subject, for the diffusion model and the reconstructor of its six views.
        case pipeline

        /// (azimuth, elevation) in degrees for each view, in file order.
        public var viewAngles: [(azimuthDegrees: Double, elevationDegrees: Double)] {
            switch self {
            case .diffusion: return OrbitRig.diffusionAzimuthsDegrees.map { ($0, 0) }
            case .reconstructor: return (0..<32).map { (Double($0) * 360 / 32, 20) }
            case .ring8: return (0..<OrbitRig.ringViewCount).map { (Double($0) * OrbitRig.ringStepDegrees, 0) }
            case .pipeline: return Preset.ring8.viewAngles + Preset.reconstructor.viewAngles
            }
        }

        public var viewCount: Int { viewAngles.count }

        /// The rig's cameras for square `size`×`size` images, FaceLift's radius and field of view.
        public func cameras(size: Int) -> [Camera] {
            viewAngles.map {
                OrbitRig.camera(azimuthDegrees: $0.azimuthDegrees, elevationDegrees: $0.elevationDegrees, width: size, height: size)
            }
        }
    }
}
