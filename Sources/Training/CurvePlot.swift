import Datasets
import Foundation

/// Draws training curves (loss against step, log-scaled y) into an RGB PNG, with axis labels
/// from a built-in 5×7 font: no plotting library needed on a training machine.
public struct CurvePlot {
    public var width = 640, height = 360
    public var title: String
    public var logScale = true
    public var series: [(name: String, points: [(x: Double, y: Double)], color: (UInt8, UInt8, UInt8))] = []

    public init(title: String) { self.title = title }

    public static let palette: [(UInt8, UInt8, UInt8)] = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189)]

    public mutating func add(_ name: String, _ points: [(x: Double, y: Double)]) {
        series.append((name, points, CurvePlot.palette[series.count % CurvePlot.palette.count]))
    }

    public func writePNG(_ path: String) throws {
        var canvas = Canvas(width: width, height: height)
        let (left, right, top, bottom) = (70, width - 20, 30, height - 40)
        let finite = series.flatMap { $0.points }.filter { $0.y.isFinite && (!logScale || $0.y > 0) }
        canvas.text(title, x: left, y: 10, color: (0, 0, 0))
        guard let xMin = finite.map(\.x).min(), let xMax = finite.map(\.x).max(),
              let yMinRaw = finite.map(\.y).min(), let yMaxRaw = finite.map(\.y).max() else {
            canvas.text("no data yet", x: left + 10, y: height / 2, color: (120, 120, 120))
            return try canvas.write(path)
        }
        let f: (Double) -> Double = logScale ? { log10($0) } : { $0 }
        var (y0, y1) = (f(yMinRaw), f(yMaxRaw))
        if y1 - y0 < 1e-9 { y0 -= 0.5; y1 += 0.5 }
        let x1 = xMax > xMin ? xMax : xMin + 1
        let px = { (x: Double) in left + Int((x - xMin) / (x1 - xMin) * Double(right - left)) }
        let py = { (y: Double) in bottom - Int((f(y) - y0) / (y1 - y0) * Double(bottom - top)) }

        // Axes, grid and tick labels.
        for i in 0...4 {
            let v = y0 + (y1 - y0) * Double(i) / 4
            let y = bottom - (bottom - top) * i / 4
            canvas.line(left, y, right, y, color: (225, 225, 225))
            canvas.text(CurvePlot.label(logScale ? pow(10, v) : v), x: 4, y: y - 3, color: (60, 60, 60))
            let xv = xMin + (x1 - xMin) * Double(i) / 4
            let x = left + (right - left) * i / 4
            canvas.text(String(Int(xv.rounded())), x: x - 8, y: bottom + 8, color: (60, 60, 60))
        }
        canvas.line(left, top, left, bottom, color: (0, 0, 0))
        canvas.line(left, bottom, right, bottom, color: (0, 0, 0))
        canvas.text("step", x: (left + right) / 2 - 10, y: bottom + 22, color: (0, 0, 0))

        for (i, s) in series.enumerated() {
            let pts = s.points.filter { $0.y.isFinite && (!logScale || $0.y > 0) }
            for (a, b) in zip(pts, pts.dropFirst()) { canvas.line(px(a.x), py(a.y), px(b.x), py(b.y), color: s.color) }
            if pts.count == 1 { canvas.line(px(pts[0].x), py(pts[0].y), px(pts[0].x) + 1, py(pts[0].y), color: s.color) }
            canvas.text(s.name, x: right - 120, y: top + 12 * i, color: s.color)
        }
        try canvas.write(path)
    }

    static func label(_ v: Double) -> String {
        if v != 0 && (abs(v) < 1e-2 || abs(v) >= 1e4) { return String(format: "%.1e", v) }
        return String(format: abs(v) < 1 ? "%.4f" : "%.2f", v)
    }
}
