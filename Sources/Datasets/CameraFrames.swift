import Splatting

// The camera file format (`CameraFile`, `CameraFrame`, plain Doubles) and the geometry's
// `Camera` meet here, in the formats layer above the geometry, so that the rasterizer links
// neither HDF5 nor libpng. These conversions carry cameras between the two without loss.

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

extension Camera {
    /// A camera from the floats shards, batches and samples store: fx, fy, cx, cy, and a
    /// row-major 4×4 world-to-camera.
    public init(width: Int, height: Int, intrinsics k: UnsafePointer<Float>, worldToCamera m: UnsafePointer<Float>) {
        self.init(width: width, height: height, fx: Double(k[0]), fy: Double(k[1]), cx: Double(k[2]), cy: Double(k[3]),
                  worldToCamera: Matrix4(rowMajor: (0..<16).map { Double(m[$0]) }))
    }
}

extension Batch {
    /// The cameras of views `views` of every sample (all views when nil), as the loader stored
    /// them: `intrinsics` [B, V, 4] and `w2c` [B, V, 4, 4].
    public func cameras(views: Range<Int>? = nil) -> [[Camera]] {
        let v = intrinsics.shape[1], h = images.shape[3], w = images.shape[4]
        let chosen = views ?? 0..<v
        return (0..<count).map { b in
            chosen.map { view in
                Camera(width: w, height: h, intrinsics: intrinsics.storage.base + (b * v + view) * 4,
                       worldToCamera: w2c.storage.base + (b * v + view) * 16)
            }
        }
    }
}
