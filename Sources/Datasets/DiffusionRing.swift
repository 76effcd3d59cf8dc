import Foundation
import Splatting

/// The diffusion model's training ring in a subject's cameras: `OrbitRig.ringViewCount` (8) views
/// at 0° elevation whose azimuths are the multiples of 45°, found from the w2c matrices (never
/// assumed from file positions), so a `ring8` subject (views 0–7), a `pipeline` one (views 0–7
/// of 40) or any other folder holding such cameras all work.
///
/// Azimuth and elevation are those of `OrbitRig`: the centre c = −Rᵀt lies at
/// |c|·(cos e·sin a, −cos e·cos a, sin e), azimuth 0 in front of the face. Azimuths are absolute
/// (not relative to the first view) because the `front` condition means the face's front.
public enum DiffusionRing {
    /// How far (degrees) a camera may sit from a ring position, or look away from the origin, and
    /// still be that ring view: far above Float32 rounding, far below the 11.25° of the densest rig.
    public static let toleranceDegrees: Float = 0.5

    /// Ring steps (of 45°) from the condition to each of the six targets when the first target
    /// reconstructs the input: α + {0, 45, 90, 180, 270, 315}° (`OrbitRig.diffusionAzimuthsDegrees`).
    public static let targetSteps: [Int] = OrbitRig.diffusionAzimuthsDegrees.map { Int(($0 / OrbitRig.ringStepDegrees).rounded()) }

    /// The ablation without input-view reconstruction: six novel views, none at the input camera,
    /// α + {45, 90, 135, 180, 270, 315}°: the default's five novel views with 135° added, in
    /// ascending order (225°, the eighth ring view, mirrors 135° and is left out).
    public static let novelTargetSteps: [Int] = [1, 2, 3, 4, 6, 7]

    /// File indices of the ring views, element k at azimuth k·45°, the first such view in file
    /// order where several qualify; nil when any of the eight positions has no view.
    public static func find(w2c: ArraySlice<Float>, views: Int) -> [Int]? {
        var ring = [Int?](repeating: nil, count: OrbitRig.ringViewCount)
        for v in (0..<views).reversed() {
            if let k = position(w2c: w2c, view: v) { ring[k] = v }
        }
        return ring.contains(nil) ? nil : ring.map { $0! }
    }

    /// Azimuth and elevation (degrees) of view `v`'s camera centre.
    public static func angles(w2c: ArraySlice<Float>, view v: Int) -> (azimuth: Float, elevation: Float) {
        let c = CameraFrame.centre(w2c: w2c[w2c.startIndex + v * 16 ..< w2c.startIndex + v * 16 + 16])
        let horizontal = (c.x * c.x + c.y * c.y).squareRoot()
        var azimuth = atan2(c.x, -c.y) * 180 / .pi
        if azimuth < 0 { azimuth += 360 }
        return (azimuth, atan2(c.z, horizontal) * 180 / .pi)
    }

    /// The ring position (0..<8) of view `v`, or nil when it is off the ring or not looking at
    /// the origin.
    static func position(w2c: ArraySlice<Float>, view v: Int) -> Int? {
        let (azimuth, elevation) = angles(w2c: w2c, view: v)
        guard abs(elevation) <= toleranceDegrees else { return nil }
        let step = Float(OrbitRig.ringStepDegrees)
        let k = Int((azimuth / step).rounded())
        guard abs(azimuth - Float(k) * step) <= toleranceDegrees else { return nil }
        // OpenCV's optical axis (+z) is the third row of R in world coordinates: it must point at
        // the origin, i.e. along −c.
        let b = w2c.startIndex + v * 16
        let forward = SIMD3(w2c[b + 8], w2c[b + 9], w2c[b + 10])
        let c = CameraFrame.centre(w2c: w2c[b ..< b + 16])
        let cosine = -(forward * c).sum() / max((c * c).sum().squareRoot() * (forward * forward).sum().squareRoot(), 1e-12)
        guard cosine >= cos(toleranceDegrees * .pi / 180) else { return nil }
        return k % OrbitRig.ringViewCount
    }

    /// Why a subject has no ring, for an error message: its 0°-elevation views and their azimuths.
    public static func describeMissing(w2c: ArraySlice<Float>, views: Int) -> String {
        let level = (0..<views).compactMap { v -> String? in
            let (azimuth, elevation) = angles(w2c: w2c, view: v)
            return abs(elevation) <= toleranceDegrees ? String(format: "view %d at %.2f°", v, azimuth) : nil
        }
        let found = level.isEmpty ? "none of its \(views) views is at 0° elevation"
            : "its 0°-elevation views: " + level.prefix(12).joined(separator: ", ") + (level.count > 12 ? ", …" : "")
        return "has no ring of \(OrbitRig.ringViewCount) views at 0° elevation and azimuths 0, 45, …, 315° looking at the origin, "
            + "which the diffusion view selection needs (\(found)); make the data with `data-tools synth --rig ring8` or `--rig pipeline`"
    }
}
