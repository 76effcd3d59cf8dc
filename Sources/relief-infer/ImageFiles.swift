import Datasets
import Foundation
import Tensors

/// Writes an RGB image [3, H, W] in [0, 1] (or [1, 3, H, W]) as an 8-bit RGB PNG.
func writeRGB(_ image: Tensor, to path: String) throws {
    let h = image.shape[image.rank - 2], w = image.shape[image.rank - 1], plane = w * h
    check(image.count == 3 * plane, "writeRGB needs one [3, H, W] image, got \(image.shape)")
    var bytes = [UInt8](repeating: 0, count: plane * 3)
    for p in 0..<plane {
        for c in 0..<3 { bytes[p * 3 + c] = UInt8(max(0, min(255, (image[flat: c * plane + p] * 255).rounded()))) }
    }
    try bytes.withUnsafeBufferPointer { try PNG.write(path, uint8: $0, width: w, height: h, channels: 3) }
}

/// The PNG name for a camera frame: its `file_path` base name, `cam_XXX.png` when it has none.
func frameImageName(_ filePath: String, index: Int) -> String {
    var name = (filePath as NSString).lastPathComponent
    if name.isEmpty { name = String(format: "cam_%03d.png", index) }
    if !name.lowercased().hasSuffix(".png") { name = (name as NSString).deletingPathExtension + ".png" }
    return name
}
