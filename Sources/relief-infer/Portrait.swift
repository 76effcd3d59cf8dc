import ArgumentParser
import Datasets
import Foundation
import Splatting
import Tensors

/// The options naming the portrait, shared by `generate` and `lift`.
struct PortraitOptions: ParsableArguments {
    @Option(help: "A portrait PNG (RGBA: reframed; RGB: square, on white, framed as the training renders).") var image: String?
    @Option(help: "A subject render folder (opencv_cameras.json + images/): its view --view is the portrait, all its views the ground truth.")
    var input: String?
    @Option(help: "The subject's view to use as the portrait (with --input).") var view: Int?
    @Option(help: "The portrait's azimuth in degrees (with --image; with --input it is read from the camera).") var azimuth: Double = 0

    /// The portrait at `size`² (`Portrait.read`).
    func read(size: Int) throws -> Portrait {
        try Portrait.read(image: image, input: input, view: view, azimuth: azimuth, size: size)
    }

    /// Where the portrait came from, for metrics files.
    var source: String { image ?? "\(input ?? "") view \(view.map(String.init) ?? "")" }
}

/// The portrait `generate` and `lift` start from: a PNG brought to the training framing
/// (`PortraitFraming`), or view K of a subject render folder, whose other views are then the
/// ground truth.
struct Portrait {
    /// [1, 3, size, size] in [0, 1] on white.
    var image: Tensor
    /// The azimuth it is seen from, degrees (0 = the face's front).
    var azimuthDegrees: Double
    /// The subject's views on white [V, 3, size, size] and cameras, when it comes from one.
    var subject: (id: String, images: Tensor, cameras: [Camera], frames: [CameraFrame])?

    /// `--image FILE` (seen from `azimuth`) or `--input FOLDER --view K`, exactly one; the
    /// images at `size`².
    static func read(image file: String?, input folder: String?, view: Int?, azimuth: Double, size: Int) throws -> Portrait {
        switch (file, folder) {
        case (let file?, nil):
            guard view == nil else { throw ValidationError("--view goes with --input, not --image") }
            let (image, treatment) = try PortraitFraming.prepare(try Image.readPNG(file), size: size, source: file)
            if case .reframed(let left, let top, let side) = treatment {
                print("\(file): reframed to the training framing (the \(side)×\(side) square at x \(left), y \(top) of the original, "
                      + "composited on white)")
            }
            return Portrait(image: image, azimuthDegrees: azimuth, subject: nil)
        case (nil, let folder?):
            guard let view else { throw ValidationError("--input needs --view K (the subject's view to use as the portrait)") }
            let subjects = try RenderFolder.subjects(in: [folder])
            guard subjects.count == 1 else { throw ValidationError("\(folder) holds \(subjects.count) subjects; give one subject folder") }
            let sample = try RenderFolder.load(subjects[0], size: (size, size))
            guard view >= 0 && view < sample.views else { throw ValidationError("--view \(view): the subject has views 0..<\(sample.views)") }
            let (images, cameras) = ReconstructCommand.tensors(of: sample, background: [1, 1, 1])
            let centre = cameras[view].center
            let elevation = asin(centre.z / (centre * centre).sum().squareRoot()) * 180 / .pi
            if abs(elevation) > 5 {
                FileHandle.standardError.write(Data(String(format: "warning: view %d is seen from %.1f° elevation; the diffusion model was "
                                                           + "trained on portraits at 0° (expect worse views)\n", view, elevation).utf8))
            }
            let frames = try CameraFile.read(subjects[0].camerasPath).frames
            return Portrait(image: item(images, view).reshaped([1, 3, size, size]), azimuthDegrees: atan2(centre.x, -centre.y) * 180 / .pi,
                            subject: (subjects[0].id, images, cameras, frames))
        default:
            throw ValidationError("give the portrait as --image PNG or as --input SUBJECT --view K (one of them)")
        }
    }

    /// For each azimuth (degrees), the subject's view whose camera lies in that direction at 0°
    /// elevation (within half a degree), if it has one.
    func truth(atAzimuths azimuths: [Double]) -> [Int: Tensor] {
        guard let subject else { return [:] }
        var truth: [Int: Tensor] = [:]
        for (k, azimuth) in azimuths.enumerated() {
            let a = azimuth * .pi / 180
            let wanted = SIMD3<Double>(sin(a), -cos(a), 0)
            if let match = subject.cameras.indices.first(where: { i in
                let c = subject.cameras[i].center, n = (c * c).sum().squareRoot()
                return ((c / n) * wanted).sum() > cos(0.5 * .pi / 180)
            }) { truth[k] = item(subject.images, match) }
        }
        return truth
    }
}
