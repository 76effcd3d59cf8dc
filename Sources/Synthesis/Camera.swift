import Foundation

// Cameras follow Relief's convention (DESIGN.md "Cameras"): OpenCV axes — camera x right, y down,
// z forward; world z up; a world→camera rigid transform; intrinsics fx, fy, cx, cy in pixels with
// pixel (u, v) centred at (u + 0.5, v + 0.5).
//
// Head frame: subjects face world −y (the front of the face looks toward −y), with z up. A camera
// at azimuth a and elevation e sits at r·(cos e·sin a, −cos e·cos a, sin e) and looks at the
// origin: azimuth 0 is in front of the face, 90° sees the subject's left side (world +x),
// 180° the back of the head, 270° the subject's right side.

/// A pinhole camera with OpenCV conventions.
public struct PinholeCamera: Equatable, Sendable {
    public var width: Int, height: Int
    public var fx: Float, fy: Float, cx: Float, cy: Float
    /// World → camera rotation (rows are the camera axes in world coordinates).
    public var rotation: Mat3
    public var translation: Vec3

    public init(width: Int, height: Int, fx: Float, fy: Float, cx: Float, cy: Float, rotation: Mat3, translation: Vec3) {
        self.width = width; self.height = height
        self.fx = fx; self.fy = fy; self.cx = cx; self.cy = cy
        self.rotation = rotation; self.translation = translation
    }

    /// A camera at `position` looking at `target` with world z up, square pixels and a
    /// symmetric field of view `fovDegrees` across the image width.
    public static func lookingAt(_ target: Vec3, from position: Vec3, width: Int, height: Int,
                                 fovDegrees: Float) -> PinholeCamera {
        let forward = normalize(target - position)
        var right = cross(forward, Vec3(0, 0, 1))
        if length(right) < 1e-6 { right = Vec3(1, 0, 0) }  // looking straight up or down
        right = normalize(right)
        let down = cross(forward, right)
        let r = Mat3(rows: right, down, forward)
        let f = Float(width) / 2 / tanf(radians(fovDegrees) / 2)
        return PinholeCamera(width: width, height: height, fx: f, fy: f, cx: Float(width) / 2, cy: Float(height) / 2,
                             rotation: r, translation: -r.apply(position))
    }

    /// Camera centre in world coordinates.
    public var position: Vec3 { -rotation.transposed.apply(translation) }

    @inline(__always) public func toCamera(_ p: Vec3) -> Vec3 { rotation.apply(p) + translation }

    /// Pixel coordinates (continuous; pixel u covers [u, u+1)) and depth of a world point.
    public func project(_ p: Vec3) -> (u: Float, v: Float, depth: Float) {
        let c = toCamera(p)
        return (fx * c.x / c.z + cx, fy * c.y / c.z + cy, c.z)
    }

    /// The 4×4 world→camera matrix, row-major.
    public var w2c: [[Double]] {
        let rows = [rotation.r0, rotation.r1, rotation.r2]
        return (0..<3).map { i in [Double(rows[i].x), Double(rows[i].y), Double(rows[i].z), Double(translation[i])] }
            + [[0, 0, 0, 1]]
    }
}

/// The orbit rigs of FaceLift: cameras on a sphere of radius 2.7 with a 50° field of view, all
/// looking at the origin.
public enum OrbitRig: String, CaseIterable, Codable, Sendable {
    /// Six views at 0° elevation, azimuths front + {0, 45, 90, 180, 270, 315}°.
    case diffusion
    /// Thirty-two views at 20° elevation, 11.25° apart starting at the front.
    case reconstructor

    public static let radius: Float = 2.7
    public static let fovDegrees: Float = 50

    /// (azimuth, elevation) in degrees for each view, in file order.
    public var viewAngles: [(azimuth: Float, elevation: Float)] {
        switch self {
        case .diffusion: return [0, 45, 90, 180, 270, 315].map { ($0, 0) }
        case .reconstructor: return (0..<32).map { (Float($0) * 11.25, 20) }
        }
    }

    public var viewCount: Int { viewAngles.count }

    public static func position(azimuth: Float, elevation: Float, radius: Float = OrbitRig.radius) -> Vec3 {
        let (a, e) = (radians(azimuth), radians(elevation))
        return radius * Vec3(cosf(e) * sinf(a), -cosf(e) * cosf(a), sinf(e))
    }

    public func cameras(resolution: Int) -> [PinholeCamera] {
        viewAngles.map { v in
            PinholeCamera.lookingAt(.zero, from: OrbitRig.position(azimuth: v.azimuth, elevation: v.elevation),
                                    width: resolution, height: resolution, fovDegrees: OrbitRig.fovDegrees)
        }
    }
}
