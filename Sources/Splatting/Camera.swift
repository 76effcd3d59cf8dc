import Foundation
import Tensors

/// A pinhole camera in OpenCV convention: camera x right, y down, z forward; pixel (u, v) has its
/// centre at (u + 0.5, v + 0.5). Parameters are Double so a round trip through JSON is exact; the
/// rasterizer converts per view.
public struct Camera: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var fx: Double
    public var fy: Double
    public var cx: Double
    public var cy: Double
    /// World-to-camera rigid transform, row-major 4×4.
    public var worldToCamera: Matrix4

    public init(width: Int, height: Int, fx: Double, fy: Double, cx: Double, cy: Double, worldToCamera: Matrix4) {
        self.width = width; self.height = height
        self.fx = fx; self.fy = fy; self.cx = cx; self.cy = cy
        self.worldToCamera = worldToCamera
    }

    /// A camera at `position` looking at `target`, with `up` (world) pointing up in the image.
    /// `fieldOfView` (radians) spans the image width; fx = fy, principal point at the centre.
    public init(lookingFrom position: SIMD3<Double>, at target: SIMD3<Double> = .zero, up: SIMD3<Double> = [0, 0, 1],
                width: Int, height: Int, fieldOfView: Double) {
        let forward = normalized(target - position)
        var right = cross(forward, up)
        // Looking straight along `up`: any right angle will do.
        if length(right) < 1e-9 { right = cross(forward, abs(forward.x) < 0.9 ? [1, 0, 0] : [0, 1, 0]) }
        right = normalized(right)
        let down = cross(forward, right)
        var m = Matrix4.identity
        for (r, axis) in [right, down, forward].enumerated() {
            m[r, 0] = axis.x; m[r, 1] = axis.y; m[r, 2] = axis.z
            m[r, 3] = -(axis.x * position.x + axis.y * position.y + axis.z * position.z)
        }
        let f = Double(width) / 2 / tan(fieldOfView / 2)
        self.init(width: width, height: height, fx: f, fy: f, cx: Double(width) / 2, cy: Double(height) / 2, worldToCamera: m)
    }

    /// Camera-to-world transform (the inverse rigid transform).
    public var cameraToWorld: Matrix4 { worldToCamera.rigidInverse }

    /// Camera centre in world coordinates.
    public var center: SIMD3<Double> { let c = cameraToWorld; return [c[0, 3], c[1, 3], c[2, 3]] }

    /// The same view at another resolution: intrinsics scale with the image.
    public func resized(width newWidth: Int, height newHeight: Int) -> Camera {
        let sx = Double(newWidth) / Double(width), sy = Double(newHeight) / Double(height)
        return Camera(width: newWidth, height: newHeight, fx: fx * sx, fy: fy * sy, cx: cx * sx, cy: cy * sy,
                      worldToCamera: worldToCamera)
    }
}

/// A row-major 4×4 matrix of Doubles (rigid transforms).
public struct Matrix4: Equatable, Sendable {
    public var elements: [Double]

    public init(rowMajor elements: [Double]) {
        check(elements.count == 16, "Matrix4 needs 16 elements, got \(elements.count)")
        self.elements = elements
    }

    public static var identity: Matrix4 { Matrix4(rowMajor: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]) }

    public subscript(row: Int, column: Int) -> Double {
        get { elements[row * 4 + column] }
        set { elements[row * 4 + column] = newValue }
    }

    /// Inverse of a rotation + translation: [Rᵀ | −Rᵀt].
    public var rigidInverse: Matrix4 {
        var m = Matrix4.identity
        for r in 0..<3 {
            for c in 0..<3 { m[r, c] = self[c, r] }
            m[r, 3] = -(self[0, r] * self[0, 3] + self[1, r] * self[1, 3] + self[2, r] * self[2, 3])
        }
        return m
    }

    public static func * (a: Matrix4, b: Matrix4) -> Matrix4 {
        var m = Matrix4(rowMajor: [Double](repeating: 0, count: 16))
        for r in 0..<4 { for c in 0..<4 { m[r, c] = (0..<4).reduce(0) { $0 + a[r, $1] * b[$1, c] } } }
        return m
    }
}

@inline(__always) func cross(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> SIMD3<Double> {
    [a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x]
}
@inline(__always) func length(_ a: SIMD3<Double>) -> Double { (a * a).sum().squareRoot() }
@inline(__always) func normalized(_ a: SIMD3<Double>) -> SIMD3<Double> { a / length(a) }
