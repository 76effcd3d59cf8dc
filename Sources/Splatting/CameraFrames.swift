import Datasets

// The camera file format lives in Datasets (`CameraFile`, `CameraFrame`, plain Doubles); these
// conversions carry cameras between it and the geometry without loss.

extension Camera {
    /// The camera a frame of an `opencv_cameras.json` describes.
    public init(_ frame: CameraFrame) {
        self.init(width: frame.width, height: frame.height, fx: frame.fx, fy: frame.fy, cx: frame.cx, cy: frame.cy,
                  worldToCamera: Matrix4(rowMajor: frame.w2c))
    }

    /// This camera as a frame of an `opencv_cameras.json`, for the image at `filePath`.
    public func frame(filePath: String) -> CameraFrame {
        CameraFrame(width: width, height: height, fx: fx, fy: fy, cx: cx, cy: cy, w2c: worldToCamera.elements, filePath: filePath)
    }
}

extension CameraFile {
    /// Frames for `cameras`, their images named `images/cam_000.png`, `images/cam_001.png`, …
    public init(id: String?, cameras: [Camera]) {
        self.init(id: id, frames: cameras.enumerated().map { $1.frame(filePath: CameraFrame.imagePath(view: $0)) })
    }

    /// Every frame's camera, in file order.
    public var cameras: [Camera] { frames.map(Camera.init) }
}
