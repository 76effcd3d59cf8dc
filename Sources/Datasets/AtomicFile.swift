import Foundation

/// Whole-or-nothing files: write under a temporary name in the destination's folder, then rename
/// (atomic within one file system), so readers never see a half-written PNG, shard or manifest.
public enum AtomicFile {
    /// A unique sibling name: `<dir>/.<name>.tmp-<pid>-<n>`. The leading dot keeps it out of listings.
    public static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let n = counter.next()
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(n)").path
    }

    /// Renames `temporary` onto `path`, replacing any existing file.
    public static func commit(_ temporary: String, to path: String) throws {
        if rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw DataError(path, "cannot move finished file into place: \(reason)")
        }
    }

    /// Writes `data` to `path` atomically.
    public static func write(_ data: Data, to path: String) throws {
        let temporary = temporaryPath(for: path)
        do {
            try data.write(to: URL(fileURLWithPath: temporary))
        } catch {
            unlink(temporary)
            throw DataError(path, "cannot write: \(error.localizedDescription)")
        }
        try commit(temporary, to: path)
    }

    private static let counter = Counter()

    private final class Counter: @unchecked Sendable {
        private var value = 0
        private let lock = NSLock()
        func next() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value }
    }
}
