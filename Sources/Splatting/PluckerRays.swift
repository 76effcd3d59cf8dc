import Tensors

/// Per-pixel ray maps that tell a network where each pixel looks. Rays go through pixel centres
/// (u + 0.5, v + 0.5) with unit directions in world space.
public enum PluckerRays {
    public enum Layout: Sendable {
        /// Plücker coordinates (o × d, d): moment then direction.
        case momentDirection
        /// FaceLift's variant (d, p): direction, then the point on the ray nearest the world origin.
        case directionNearestPoint
    }

    /// Ray maps of one set of views: [V, 6, H, W] (all views the same size).
    public static func map(_ cameras: [Camera], layout: Layout = .momentDirection) -> Tensor {
        check(!cameras.isEmpty, "Plücker rays of no cameras")
        let w = cameras[0].width, h = cameras[0].height
        check(cameras.allSatisfy { $0.width == w && $0.height == h }, "Plücker rays need views of one size")
        let out = Tensor(uninitializedShape: [cameras.count, 6, h, w])
        let plane = h * w
        let p = out.storage.base
        Parallel.forEach(cameras.count) { v in
            let cam = cameras[v]
            let c2w = cam.cameraToWorld
            let o = cam.center
            let base = p + v * 6 * plane
            for y in 0..<h {
                for x in 0..<w {
                    let cx = (Double(x) + 0.5 - cam.cx) / cam.fx, cy = (Double(y) + 0.5 - cam.cy) / cam.fy
                    var d = SIMD3<Double>(c2w[0, 0] * cx + c2w[0, 1] * cy + c2w[0, 2],
                                          c2w[1, 0] * cx + c2w[1, 1] * cy + c2w[1, 2],
                                          c2w[2, 0] * cx + c2w[2, 1] * cy + c2w[2, 2])
                    d = normalized(d)
                    let first: SIMD3<Double>
                    switch layout {
                    case .momentDirection: first = cross(o, d)
                    case .directionNearestPoint: first = d
                    }
                    let second: SIMD3<Double>
                    switch layout {
                    case .momentDirection: second = d
                    case .directionNearestPoint: second = o - (o * d).sum() * d
                    }
                    let i = y * w + x
                    for k in 0..<3 {
                        base[k * plane + i] = Float(first[k])
                        base[(3 + k) * plane + i] = Float(second[k])
                    }
                }
            }
        }
        return out
    }

    /// Ray maps of a batch: [B, V, 6, H, W].
    public static func map(_ cameras: [[Camera]], layout: Layout = .momentDirection) -> Tensor {
        check(!cameras.isEmpty && cameras.allSatisfy { $0.count == cameras[0].count },
              "Plücker rays need the same number of views per sample")
        let maps = cameras.map { map($0, layout: layout) }
        let per = maps[0].count
        let out = Tensor(uninitializedShape: [cameras.count] + maps[0].shape)
        for (b, m) in maps.enumerated() {
            check(m.shape == maps[0].shape, "Plücker rays need views of one size")
            (out.storage.base + b * per).update(from: m.storage.base, count: per)
        }
        return out
    }
}
