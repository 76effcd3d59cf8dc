import Foundation

extension TriangleMesh {
    /// Binary little-endian PLY (x y z as float, red green blue as uchar in sRGB, faces as
    /// uchar count + int indices): the layout MeshLab, Blender, trimesh and Open3D read.
    public func plyData() -> Data {
        var header = "ply\nformat binary_little_endian 1.0\ncomment Relief synthetic subject surface (scene units, z up)\n"
        header += "element vertex \(positions.count)\nproperty float x\nproperty float y\nproperty float z\n"
        header += "property uchar red\nproperty uchar green\nproperty uchar blue\n"
        header += "element face \(triangles.count)\nproperty list uchar int vertex_indices\nend_header\n"
        var data = Data(header.utf8)
        data.reserveCapacity(data.count + positions.count * 15 + triangles.count * 13)
        var bytes = [UInt8]()
        bytes.reserveCapacity(positions.count * 15 + triangles.count * 13)
        @inline(__always) func put(_ v: UInt32) {
            bytes.append(UInt8(v & 0xFF)); bytes.append(UInt8((v >> 8) & 0xFF))
            bytes.append(UInt8((v >> 16) & 0xFF)); bytes.append(UInt8(v >> 24))
        }
        for (i, p) in positions.enumerated() {
            put(p.x.bitPattern); put(p.y.bitPattern); put(p.z.bitPattern)
            let c = i < albedo.count ? albedo[i] : Vec3(repeating: 0.5)
            for v in [c.x, c.y, c.z] { bytes.append(UInt8((powf(clamp01(v), 1 / 2.2) * 255).rounded())) }
        }
        for t in triangles {
            bytes.append(3)
            put(UInt32(bitPattern: t.x)); put(UInt32(bitPattern: t.y)); put(UInt32(bitPattern: t.z))
        }
        data.append(contentsOf: bytes)
        return data
    }
}
