import CHDF5
import Foundation

/// A thin, checked layer over libhdf5's C API: files, n-D datasets (optionally chunked and
/// deflated), hyperslab reads/writes of one leading index, scalar attributes and variable-length
/// UTF-8 strings (what h5py reads as `str`). Every failure throws a `DataError` naming the file
/// and object.
///
/// libhdf5 may be built without thread safety, so every call into it goes through
/// `HDF5.locked`, one global lock. Where it is built thread-safe (Debian's is), its error stack
/// and the automatic printing of it are per thread: each entry silences printing for the
/// calling thread, since Relief reports errors itself, naming the file.
public enum HDF5 {
    private static let mutex = NSLock()

    /// Runs `body` holding the library-wide lock.
    @inline(__always) public static func locked<T>(_ body: () throws -> T) rethrows -> T {
        mutex.lock()
        defer { mutex.unlock() }
        relief_H5_silence_errors()
        return try body()
    }
}

/// An open HDF5 file. Close explicitly (`close()`), or let deinit close it.
public final class HDF5File: @unchecked Sendable {
    public let path: String
    fileprivate var id: hid_t

    private init(path: String, id: hid_t) {
        self.path = path
        self.id = id
    }

    /// Creates (truncating) a file. Closing it closes every object still open in it ("strong"
    /// close degree), so once `close()` returns the file on disk is complete.
    public static func create(_ path: String) throws -> HDF5File {
        try HDF5.locked {
            let fapl = H5Pcreate(relief_H5P_FILE_ACCESS())
            defer { H5Pclose(fapl) }
            H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG)
            let id = H5Fcreate(path, relief_H5F_ACC_TRUNC(), relief_H5P_DEFAULT(), fapl)
            guard id >= 0 else { throw DataError(path, "cannot create HDF5 file") }
            return HDF5File(path: path, id: id)
        }
    }

    /// Opens an existing file read-only. A truncated or non-HDF5 file fails here.
    public static func open(_ path: String) throws -> HDF5File {
        try HDF5.locked {
            guard FileManager.default.fileExists(atPath: path) else { throw DataError(path, "no such file") }
            guard H5Fis_hdf5(path) > 0 else { throw DataError(path, "not an HDF5 file (or its superblock is damaged)") }
            let id = H5Fopen(path, relief_H5F_ACC_RDONLY(), relief_H5P_DEFAULT())
            guard id >= 0 else { throw DataError(path, "cannot open HDF5 file (truncated or corrupt)") }
            return HDF5File(path: path, id: id)
        }
    }

    public func close() throws {
        try HDF5.locked {
            guard id >= 0 else { return }
            let status = H5Fclose(id)
            id = -1
            if status < 0 { throw DataError(path, "error closing HDF5 file (data may not have been written)") }
        }
    }

    deinit { if id >= 0 { _ = HDF5.locked { H5Fclose(id) } } }

    // MARK: datasets

    /// Creates a dataset of `shape`. `chunk` (same rank) enables chunked storage and, with it,
    /// `deflate` (0: none, 1…9: zlib level).
    public func createDataset(_ name: String, type: HDF5Type, shape: [Int], chunk: [Int]? = nil, deflate: Int = 0) throws -> HDF5Dataset {
        try HDF5.locked {
            var dims = shape.map { hsize_t($0) }
            let space = H5Screate_simple(Int32(dims.count), &dims, nil)
            defer { H5Sclose(space) }
            let dcpl = H5Pcreate(relief_H5P_DATASET_CREATE())
            defer { H5Pclose(dcpl) }
            if var chunkDims = chunk?.map({ hsize_t($0) }) {
                H5Pset_chunk(dcpl, Int32(chunkDims.count), &chunkDims)
                if deflate > 0 { H5Pset_deflate(dcpl, UInt32(deflate)) }
            }
            let fileType = type.fileType
            defer { type.release(fileType) }
            let id = H5Dcreate2(self.id, name, fileType, space, relief_H5P_DEFAULT(), dcpl, relief_H5P_DEFAULT())
            guard id >= 0 else { throw DataError(path, "cannot create dataset '\(name)'") }
            return HDF5Dataset(file: self, name: name, id: id, shape: shape)
        }
    }

    public func hasDataset(_ name: String) -> Bool {
        HDF5.locked { H5Lexists(id, name, relief_H5P_DEFAULT()) > 0 }
    }

    public func dataset(_ name: String) throws -> HDF5Dataset {
        try HDF5.locked {
            guard H5Lexists(id, name, relief_H5P_DEFAULT()) > 0 else { throw DataError(path, "missing dataset '\(name)'") }
            let ds = H5Dopen2(id, name, relief_H5P_DEFAULT())
            guard ds >= 0 else { throw DataError(path, "cannot open dataset '\(name)'") }
            let space = H5Dget_space(ds)
            defer { H5Sclose(space) }
            let rank = Int(H5Sget_simple_extent_ndims(space))
            var dims = [hsize_t](repeating: 0, count: max(rank, 1))
            H5Sget_simple_extent_dims(space, &dims, nil)
            return HDF5Dataset(file: self, name: name, id: ds, shape: dims.prefix(rank).map { Int($0) })
        }
    }

    // MARK: attributes on the root group

    public func setAttribute(_ name: String, _ value: Int) throws {
        var v = Int64(value)
        try writeAttribute(name, type: .int64, &v)
    }

    public func setAttribute(_ name: String, _ value: String) throws {
        try value.withCString { s in
            var pointer: UnsafePointer<CChar>? = s
            try writeAttribute(name, type: .string, &pointer)
        }
    }

    public func intAttribute(_ name: String) throws -> Int {
        var v: Int64 = 0
        try readAttribute(name, type: .int64, &v)
        return Int(v)
    }

    public func stringAttribute(_ name: String) throws -> String {
        var pointer: UnsafeMutablePointer<CChar>? = nil
        try readAttribute(name, type: .string, &pointer)
        defer { free(pointer) }
        return pointer.map { String(cString: $0) } ?? ""
    }

    public func hasAttribute(_ name: String) -> Bool {
        HDF5.locked { H5Aexists(id, name) > 0 }
    }

    private func writeAttribute(_ name: String, type: HDF5Type, _ value: UnsafeRawPointer) throws {
        try HDF5.locked {
            let space = H5Screate(H5S_SCALAR)
            defer { H5Sclose(space) }
            let t = type.fileType
            defer { type.release(t) }
            let attr = H5Acreate2(id, name, t, space, relief_H5P_DEFAULT(), relief_H5P_DEFAULT())
            guard attr >= 0 else { throw DataError(path, "cannot create attribute '\(name)'") }
            defer { H5Aclose(attr) }
            let m = type.memoryType
            defer { type.release(m) }
            guard H5Awrite(attr, m, value) >= 0 else { throw DataError(path, "cannot write attribute '\(name)'") }
        }
    }

    private func readAttribute(_ name: String, type: HDF5Type, _ value: UnsafeMutableRawPointer) throws {
        try HDF5.locked {
            guard H5Aexists(id, name) > 0 else { throw DataError(path, "missing attribute '\(name)'") }
            let attr = H5Aopen(id, name, relief_H5P_DEFAULT())
            guard attr >= 0 else { throw DataError(path, "cannot open attribute '\(name)'") }
            defer { H5Aclose(attr) }
            let m = type.memoryType
            defer { type.release(m) }
            guard H5Aread(attr, m, value) >= 0 else { throw DataError(path, "cannot read attribute '\(name)' as \(type)") }
        }
    }
}

/// Element types Relief stores.
public enum HDF5Type: CustomStringConvertible, Sendable {
    case uint8, uint32, int64, float32, string

    /// Little-endian on disk, whatever the host; variable-length UTF-8 for strings.
    var fileType: hid_t {
        switch self {
        case .uint8: return relief_H5T_STD_U8LE()
        case .uint32: return relief_H5T_STD_U32LE()
        case .int64: return relief_H5T_STD_I64LE()
        case .float32: return relief_H5T_IEEE_F32LE()
        case .string: return HDF5Type.variableString()
        }
    }

    var memoryType: hid_t {
        switch self {
        case .uint8: return relief_H5T_NATIVE_UINT8()
        case .uint32: return relief_H5T_NATIVE_UINT32()
        case .int64: return relief_H5T_NATIVE_INT64()
        case .float32: return relief_H5T_NATIVE_FLOAT()
        case .string: return HDF5Type.variableString()
        }
    }

    /// The string type is made with H5Tcopy and must be closed; predefined ones must not.
    func release(_ t: hid_t) {
        if self == .string { H5Tclose(t) }
    }

    private static func variableString() -> hid_t {
        let t = H5Tcopy(relief_H5T_C_S1())
        H5Tset_size(t, relief_H5T_VARIABLE())
        H5Tset_cset(t, H5T_CSET_UTF8)
        return t
    }

    public var description: String {
        switch self {
        case .uint8: return "uint8"
        case .uint32: return "uint32"
        case .int64: return "int64"
        case .float32: return "float32"
        case .string: return "string"
        }
    }
}

/// An open dataset. Reads and writes either the whole dataset or a block of the leading
/// dimensions (`at` gives leading indices, the rest is read in full).
public final class HDF5Dataset: @unchecked Sendable {
    public unowned let file: HDF5File
    public let name: String
    public let shape: [Int]
    private var id: hid_t

    fileprivate init(file: HDF5File, name: String, id: hid_t, shape: [Int]) {
        self.file = file
        self.name = name
        self.id = id
        self.shape = shape
    }

    deinit { if id >= 0 { _ = HDF5.locked { H5Dclose(id) } } }

    /// Closes the dataset now (its data is complete in the file once the file closes too).
    public func close() {
        HDF5.locked {
            if id >= 0 { H5Dclose(id) }
            id = -1
        }
    }

    /// The element class stored, for validating files written by others.
    public var elementDescription: String {
        HDF5.locked {
            let t = H5Dget_type(id)
            defer { H5Tclose(t) }
            let cls = H5Tget_class(t)
            let size = H5Tget_size(t)
            switch cls {
            case H5T_INTEGER: return H5Tget_sign(t) == H5T_SGN_NONE ? "uint\(size * 8)" : "int\(size * 8)"
            case H5T_FLOAT: return "float\(size * 8)"
            case H5T_STRING: return "string"
            default: return "class \(cls.rawValue)"
            }
        }
    }

    /// Elements in one entry of the leading `prefix` dimensions.
    public func elements(below prefix: Int) -> Int { shape.dropFirst(prefix).reduce(1, *) }

    /// Writes `buffer` into the block whose leading indices are `at` (empty: the whole dataset).
    public func write(_ buffer: UnsafeRawPointer, type: HDF5Type, at leading: [Int] = []) throws {
        try transfer(type: type, at: leading) { memType, memSpace, fileSpace in
            H5Dwrite(id, memType, memSpace, fileSpace, relief_H5P_DEFAULT(), buffer)
        }
    }

    /// Reads the block whose leading indices are `at` (empty: the whole dataset) into `buffer`.
    public func read(into buffer: UnsafeMutableRawPointer, type: HDF5Type, at leading: [Int] = []) throws {
        try transfer(type: type, at: leading) { memType, memSpace, fileSpace in
            H5Dread(id, memType, memSpace, fileSpace, relief_H5P_DEFAULT(), buffer)
        }
    }

    public func writeStrings(_ strings: [String]) throws {
        guard strings.count == elements(below: 0) else {
            throw DataError(file.path, "dataset '\(name)' holds \(elements(below: 0)) strings, given \(strings.count)")
        }
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        var pointers = copies.map { UnsafePointer<CChar>($0) }
        try pointers.withUnsafeMutableBytes { try write($0.baseAddress!, type: .string) }
    }

    public func readStrings() throws -> [String] {
        let n = elements(below: 0)
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: n)
        try pointers.withUnsafeMutableBytes { try read(into: $0.baseAddress!, type: .string) }
        defer { pointers.forEach { free($0) } }
        return pointers.map { $0.map { String(cString: $0) } ?? "" }
    }

    private func transfer(type: HDF5Type, at leading: [Int],
                          _ call: (hid_t, hid_t, hid_t) -> herr_t) throws {
        guard leading.count <= shape.count, zip(leading, shape).allSatisfy({ $0 >= 0 && $0 < $1 }) else {
            throw DataError(file.path, "index \(leading) outside dataset '\(name)' of shape \(shape)")
        }
        try HDF5.locked {
            let memType = type.memoryType
            defer { type.release(memType) }
            var status: herr_t
            if leading.isEmpty {
                status = call(memType, relief_H5S_ALL(), relief_H5S_ALL())
            } else {
                let fileSpace = H5Dget_space(id)
                defer { H5Sclose(fileSpace) }
                var start = shape.indices.map { hsize_t($0 < leading.count ? leading[$0] : 0) }
                var count = shape.indices.map { hsize_t($0 < leading.count ? 1 : shape[$0]) }
                H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &count, nil)
                var memDims = shape.dropFirst(leading.count).map { hsize_t($0) }
                if memDims.isEmpty { memDims = [1] }
                let memSpace = H5Screate_simple(Int32(memDims.count), &memDims, nil)
                defer { H5Sclose(memSpace) }
                status = call(memType, memSpace, fileSpace)
            }
            if status < 0 {
                throw DataError(file.path, "cannot transfer dataset '\(name)'\(leading.isEmpty ? "" : " at \(leading)") (truncated or corrupt data?)")
            }
        }
    }
}
