import Foundation

/// A file being written with plain POSIX calls: large writes straight from tensor memory, no
/// intermediate buffer, and `fsync` so a checkpoint is on disk before it is renamed into place.
struct WritableFile {
    let path: String
    private(set) var fd: Int32

    /// Creates (or truncates) `path`.
    init(creating path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw CheckpointError(path: path, "cannot create file: \(errnoText())") }
    }

    /// Writes every byte, retrying partial writes and interrupts. `what` names the part being
    /// written in the error (a tensor key, "header").
    func write(_ bytes: UnsafeRawBufferPointer, what: String) throws {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            // Linux writes at most ~2 GiB per call.
            let n = Foundation.write(fd, p, min(left, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw CheckpointError(path: path, "writing \(what) failed: \(errnoText())")
            }
            if n == 0 { throw CheckpointError(path: path, "writing \(what) made no progress") }
            p += n
            left -= n
        }
    }

    func sync() throws {
        if fsync(fd) != 0 { throw CheckpointError(path: path, "fsync failed: \(errnoText())") }
    }

    mutating func close() throws {
        guard fd >= 0 else { return }
        let result = Foundation.close(fd)
        fd = -1
        if result != 0 { throw CheckpointError(path: path, "close failed: \(errnoText())") }
    }

    /// Closes without reporting: for error paths that already have an error to throw.
    mutating func closeQuietly() {
        if fd >= 0 { _ = Foundation.close(fd); fd = -1 }
    }
}

/// Makes a directory's entries (new files, renames) durable.
func syncDirectory(_ path: String) throws {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if fd < 0 { throw CheckpointError(path: path, "cannot open directory to sync: \(errnoText())") }
    defer { close(fd) }
    if fsync(fd) != 0 { throw CheckpointError(path: path, "fsync of directory failed: \(errnoText())") }
}

/// A whole file mapped read-only: tensors are converted straight from the page cache, with no
/// copy of the file in memory and no per-tensor reads.
final class FileMapping {
    let path: String
    let bytes: UnsafeRawBufferPointer

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw SafetensorsError(file: path, "cannot open: \(errnoText())") }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) != 0 { throw SafetensorsError(file: path, "cannot stat: \(errnoText())") }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw SafetensorsError(file: path, "is a directory, not a file") }
        let size = Int(info.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw SafetensorsError(file: path, "cannot map \(size) bytes: \(errnoText())")
        }
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}
