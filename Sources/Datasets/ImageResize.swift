import Tensors

/// Antialiased resampling. Each output pixel is a weighted average of the input pixels under a
/// triangle (tent) filter stretched by the downscale factor, so downsampling averages over the
/// whole footprint (no aliasing, like PIL's antialiased BILINEAR) and upsampling is bilinear.
/// Coordinates follow the pixel-centre convention (centre of pixel u at u + 0.5), so scaling the
/// intrinsics by the same factors keeps cameras exact. Colour is resampled premultiplied by
/// alpha, so transparent pixels do not bleed their (meaningless) colour into the edges.
extension Image {
    public func resized(width newWidth: Int, height newHeight: Int) -> Image {
        check(newWidth > 0 && newHeight > 0, "Image.resized: size must be positive")
        if newWidth == width && newHeight == height { return self }
        let alpha = hasAlpha ? channels - 1 : -1
        var source = pixels
        if alpha >= 0 { Image.premultiply(&source, channels: channels, alpha: alpha) }
        // Horizontal pass first (rows stay contiguous), then vertical.
        let horizontal = ResampleWeights(from: width, to: newWidth)
        var mid = [Float](repeating: 0, count: newWidth * height * channels)
        let c = channels
        horizontal.weights.withUnsafeBufferPointer { hwBuffer in
        source.withUnsafeBufferPointer { src in
            mid.withUnsafeMutableBufferPointer { dst in
                let s = src.baseAddress!, d = dst.baseAddress!, hw = hwBuffer.baseAddress!
                Parallel.forRanges(height, grain: 16) { rows in
                    for y in rows {
                        let inRow = s + y * width * c, outRow = d + y * newWidth * c
                        for x in 0..<newWidth {
                            let start = horizontal.starts[x], taps = horizontal.counts[x]
                            let weights = hw + x * horizontal.stride
                            for ch in 0..<c {
                                var acc: Float = 0
                                for k in 0..<taps { acc += weights[k] * inRow[(start + k) * c + ch] }
                                outRow[x * c + ch] = acc
                            }
                        }
                    }
                }
            }
        }
        }
        let vertical = ResampleWeights(from: height, to: newHeight)
        var out = [Float](repeating: 0, count: newWidth * newHeight * channels)
        let rowLength = newWidth * c
        vertical.weights.withUnsafeBufferPointer { vwBuffer in
        mid.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let s = src.baseAddress!, d = dst.baseAddress!, vw = vwBuffer.baseAddress!
                Parallel.forRanges(newHeight, grain: 16) { rows in
                    for y in rows {
                        let start = vertical.starts[y], weights = vw + y * vertical.stride
                        let outRow = d + y * rowLength
                        for k in 0..<vertical.counts[y] {
                            let w = weights[k], inRow = s + (start + k) * rowLength
                            for i in 0..<rowLength { outRow[i] += w * inRow[i] }
                        }
                    }
                }
            }
        }
        }
        if alpha >= 0 { Image.unpremultiply(&out, channels: channels, alpha: alpha) }
        return Image(width: newWidth, height: newHeight, channels: channels, bitDepth: bitDepth, pixels: out)
    }

    static func premultiply(_ p: inout [Float], channels: Int, alpha: Int) {
        p.withUnsafeMutableBufferPointer { b in
            for i in stride(from: 0, to: b.count, by: channels) {
                let a = b[i + alpha]
                for ch in 0..<channels where ch != alpha { b[i + ch] *= a }
            }
        }
    }

    static func unpremultiply(_ p: inout [Float], channels: Int, alpha: Int) {
        p.withUnsafeMutableBufferPointer { b in
            for i in stride(from: 0, to: b.count, by: channels) {
                let a = b[i + alpha]
                // Below 1/512 the pixel quantises to alpha 0 anyway; its colour is undefined, keep 0.
                let inv: Float = a > 1.0 / 512 ? 1 / a : 0
                for ch in 0..<channels where ch != alpha { b[i + ch] = min(b[i + ch] * inv, 1) }
                b[i + alpha] = min(max(a, 0), 1)
            }
        }
    }
}

/// Per-output-index filter taps for resampling `from` samples to `to`, normalised to sum 1:
/// output o reads inputs starts[o] ..< starts[o] + counts[o] with weights[o · stride ...].
struct ResampleWeights {
    let starts: [Int]
    let counts: [Int]
    let stride: Int
    let weights: [Float]

    init(from n: Int, to m: Int) {
        let scale = Double(n) / Double(m)         // input pixels per output pixel
        let support = max(scale, 1)               // tent half-width in input pixels
        var starts = [Int](), rows = [[Float]]()
        for o in 0..<m {
            let centre = (Double(o) + 0.5) * scale  // in input coordinates
            let lo = max(0, Int((centre - support).rounded(.down)))
            let hi = min(n - 1, Int((centre + support).rounded(.up)))
            let w = (lo...hi).map { max(0, 1 - abs(Double($0) + 0.5 - centre) / support) }
            let total = w.reduce(0, +)
            // Trim zero taps at both ends so inner loops do no useless work.
            var first = 0, last = w.count - 1
            while first < last && w[first] == 0 { first += 1 }
            while last > first && w[last] == 0 { last -= 1 }
            starts.append(lo + first)
            rows.append(w[first...last].map { Float($0 / total) })
        }
        let stride = rows.map(\.count).max() ?? 1
        var flat = [Float](repeating: 0, count: m * stride)
        for (o, row) in rows.enumerated() { for (k, w) in row.enumerated() { flat[o * stride + k] = w } }
        self.starts = starts
        self.counts = rows.map(\.count)
        self.stride = stride
        self.weights = flat
    }
}
