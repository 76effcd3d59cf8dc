import Foundation
import Tensors

/// Writes rows × columns of [3, H, W] images in [0, 1] as one RGB PNG with 2-pixel gutters:
/// evaluation grids (inputs | predictions | ground truth).
public enum ImageGrid {
    public static func write(_ rows: [[Tensor]], to path: String) throws {
        guard let first = rows.first?.first else { return }
        let h = first.shape[first.rank - 2], w = first.shape[first.rank - 1], gap = 2
        let columns = rows.map(\.count).max() ?? 0
        var canvas = Canvas(width: columns * (w + gap) + gap, height: rows.count * (h + gap) + gap, background: 40)
        for (r, row) in rows.enumerated() {
            for (c, image) in row.enumerated() {
                check(image.count == 3 * h * w, "grid images must all be [3, \(h), \(w)], got \(image.shape)")
                let p = image.storage.base, x0 = gap + c * (w + gap), y0 = gap + r * (h + gap)
                for y in 0..<h {
                    for x in 0..<w {
                        func q(_ v: Float) -> UInt8 { UInt8((min(max(v, 0), 1) * 255).rounded()) }
                        canvas.set(x0 + x, y0 + y, (q(p[y * w + x]), q(p[h * w + y * w + x]), q(p[2 * h * w + y * w + x])))
                    }
                }
            }
        }
        try canvas.write(path)
    }
}
