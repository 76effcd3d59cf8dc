import Foundation
import Tensors

/// A grid of RGBA tiles composited over a flat background: rows are subjects, columns views.
public struct ContactSheet {
    public let tileWidth: Int, tileHeight: Int, columns: Int, rows: Int
    public let gap: Int
    /// RGB, 8-bit, row-major.
    public private(set) var pixels: [UInt8]
    public var width: Int { columns * tileWidth + (columns + 1) * gap }
    public var height: Int { rows * tileHeight + (rows + 1) * gap }

    public init(tileWidth: Int, tileHeight: Int, columns: Int, rows: Int, gap: Int = 2,
                background: (UInt8, UInt8, UInt8) = (110, 110, 110)) {
        self.tileWidth = tileWidth; self.tileHeight = tileHeight; self.columns = columns; self.rows = rows; self.gap = gap
        let w = columns * tileWidth + (columns + 1) * gap, h = rows * tileHeight + (rows + 1) * gap
        pixels = [UInt8](repeating: 0, count: w * h * 3)
        for i in 0..<(w * h) { pixels[3 * i] = background.0; pixels[3 * i + 1] = background.1; pixels[3 * i + 2] = background.2 }
    }

    /// Composites an RGBA tile (straight alpha) at (row, column), scaled by nearest neighbour if
    /// its size differs from the tile size.
    public mutating func place(rgba: [UInt8], width w: Int, height h: Int, row: Int, column: Int) {
        check(rgba.count == w * h * 4, "ContactSheet.place: \(rgba.count) bytes for a \(w)×\(h) RGBA tile")
        check(row >= 0 && row < rows && column >= 0 && column < columns,
              "ContactSheet.place: tile (\(row), \(column)) outside \(rows) rows × \(columns) columns")
        let sheetWidth = width
        let x0 = gap + column * (tileWidth + gap), y0 = gap + row * (tileHeight + gap)
        for y in 0..<tileHeight {
            let sy = y * h / tileHeight
            for x in 0..<tileWidth {
                let sx = x * w / tileWidth
                let s = (sy * w + sx) * 4, d = ((y0 + y) * sheetWidth + x0 + x) * 3
                let a = UInt32(rgba[s + 3])
                for c in 0..<3 {
                    pixels[d + c] = UInt8((UInt32(rgba[s + c]) * a + UInt32(pixels[d + c]) * (255 - a) + 127) / 255)
                }
            }
        }
    }
}
