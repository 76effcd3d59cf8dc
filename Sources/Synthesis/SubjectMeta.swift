import Foundation
import Splatting

/// meta.json of a rendered subject: which generator made it, from which seed and indices, with
/// every attribute needed to rebuild or filter it.
public struct SubjectMeta: Codable, Sendable {
    public struct HeadAttributes: Codable, Sendable {
        public var identity: HeadIdentity
        public var variant: HeadVariant
    }

    public var subject: String
    public var kind: SubjectKind
    public var seed: UInt64
    public var identity: Int?
    public var variant: Int?
    public var index: Int?
    public var rig: OrbitRig.Preset
    public var resolution: Int
    public var supersampling: Int
    public var views: Int
    public var conventions: String
    public var head: HeadAttributes?
    public var object: ObjectParameters?
    public var lighting: Lighting
    /// The surface mesh file (world coordinates, same frame as the cameras), if written.
    public var mesh: String?
    public var meshVertices: Int?
    public var meshTriangles: Int?

    public static let conventionText = "OpenCV cameras (x right, y down, z forward), world z up, w2c 4x4, pixel centres at u+0.5; "
        + "the face looks toward world -y; azimuth 0 is in front of the face, 90 sees the subject's left side (+x), 180 the back; "
        + "cameras at radius 2.7 with a 50 degree field of view look at the origin; images RGBA, straight alpha, transparent background"
}

public enum SubjectKind: String, Codable, CaseIterable, Sendable {
    case heads, objects
}
