import Splatting
import Tensors

/// The ray of every input pixel, flattened in the order the model emits Gaussians: sample, then
/// view, row, column. Constants of the cameras: nothing here carries a gradient.
public struct PixelRays {
    /// [B, V·H·W, 3] camera centres.
    public let origins: Tensor
    /// [B, V·H·W, 3] unit directions through pixel centres.
    public let directions: Tensor
    /// [B, V·H·W, 1] distance of each camera centre from the world origin (the head's centre).
    public let originDistances: Tensor

    public init(_ cameras: [[Camera]]) {
        self.init(cameras, momentDirectionMaps: PluckerRays.map(cameras, layout: .momentDirection))
    }

    /// From the cameras' (o × d, d) ray maps [B, V, 6, H, W], when the caller has them already.
    public init(_ cameras: [[Camera]], momentDirectionMaps maps: Tensor) {
        let (b, v, h, w) = (maps.shape[0], maps.shape[1], maps.shape[3], maps.shape[4])
        let plane = h * w, n = v * plane
        origins = Tensor(uninitializedShape: [b, n, 3])
        directions = Tensor(uninitializedShape: [b, n, 3])
        originDistances = Tensor(uninitializedShape: [b, n, 1])
        let (po, pd, pr, pm) = (origins.storage.base, directions.storage.base, originDistances.storage.base, maps.storage.base)
        for s in 0..<b {
            for view in 0..<v {
                let centre = cameras[s][view].center
                let distance = Float((centre * centre).sum().squareRoot())
                let map = pm + (s * v + view) * 6 * plane
                for p in 0..<plane {
                    let g = s * n + view * plane + p
                    for k in 0..<3 {
                        po[3 * g + k] = Float(centre[k])
                        pd[3 * g + k] = map[(3 + k) * plane + p]
                    }
                    pr[g] = distance
                }
            }
        }
    }
}
