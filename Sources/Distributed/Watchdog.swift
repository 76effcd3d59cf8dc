import Foundation

/// Ends a job whose ranks wait for a peer that will never come, naming the peer.
///
/// Open MPI does not notice a rank that freezes (SIGSTOP, a hung file system): its peers wait in
/// the next collective forever. And when a rank dies, `mpirun` tears the job down naming it
/// only as "PID 0", while the survivors, sent SIGTERM, cannot tell a teardown from a user's stop.
/// Every collective the trainer makes goes through `waiting(for:_:)`; a thread polls four times a
/// second and, while this rank waits, looks at the peers on this host (`/proc/<pid>/stat`):
/// - a peer that is gone or a zombie ends the job at once, naming it;
/// - a wait longer than `timeout` seconds ends it, naming the peers that are stopped (state T),
///   or saying that every peer here runs (so one on another host, or a rank still computing,
///   is late: the timeout must exceed the longest gap between two collectives — a step, an
///   evaluation, a checkpoint write).
/// The thread never calls MPI (the communicator is `MPI_THREAD_FUNNELED`): it prints
/// "rank R: …" and `_exit`s, and `mpirun` ends the other ranks because one exited non-zero.
public final class Watchdog: @unchecked Sendable {
    public struct Peer: Sendable, Equatable {
        public var rank: Int
        public var pid: Int32
        public var host: String
    }

    public let rank: Int
    public let peers: [Peer]
    public let timeout: Double
    /// Exit status of a rank the watchdog ends.
    public static let exitStatus: Int32 = 70
    private let lock = NSLock()
    private var waitingSince: Double?
    private var waitingFor = ""
    private var context = ""
    private var stopped = false
    private var thread: Thread?

    /// Collective: gathers every rank's pid and host name. `timeout` 0 checks only for peers
    /// that are gone.
    public init(communicator: any Communicator, timeout: Double) throws {
        rank = communicator.rank
        self.timeout = timeout
        let pids = try communicator.allgather(getpid())
        let hostWidth = 256
        var name = [UInt8](repeating: 0, count: hostWidth)
        _ = gethostname(&name, hostWidth - 1)
        let gathered = UnsafeMutableRawBufferPointer.allocate(byteCount: hostWidth * communicator.size, alignment: 1)
        defer { gathered.deallocate() }
        try name.withUnsafeBytes { try communicator.allgather($0, into: gathered) }
        peers = (0..<communicator.size).map { r in
            let bytes = gathered[r * hostWidth ..< (r + 1) * hostWidth].prefix { $0 != 0 }
            return Peer(rank: r, pid: pids[r], host: String(decoding: bytes, as: UTF8.self))
        }
        guard communicator.size > 1 else { return }
        let thread = Thread { [weak self] in
            while let self, !self.isStopped {
                self.inspect()
                Thread.sleep(forTimeInterval: 0.25)
            }
        }
        thread.name = "relief-watchdog"
        thread.start()
        self.thread = thread
    }

    deinit { stop() }

    public func stop() { lock.lock(); stopped = true; lock.unlock() }
    private var isStopped: Bool { lock.lock(); defer { lock.unlock() }; return stopped }

    /// What this rank is doing, for the message (e.g. "step 12").
    public func note(_ text: String) { lock.lock(); context = text; lock.unlock() }

    /// Runs one collective under watch.
    public func waiting<T>(for what: String, _ body: () throws -> T) rethrows -> T {
        lock.lock()
        waitingSince = Self.now
        waitingFor = what
        lock.unlock()
        defer { lock.lock(); waitingSince = nil; lock.unlock() }
        return try body()
    }

    /// The peers on this host that are gone (exited, killed, zombies).
    public func gonePeers() -> [Peer] { localPeers.filter { Self.state(of: $0.pid) == .gone } }

    var localPeers: [Peer] {
        let host = peers[rank].host
        return peers.filter { $0.rank != rank && $0.host == host }
    }

    /// A one-line description of peers that are gone, for a message written on a signal.
    public func describeGonePeers() -> String? {
        let gone = gonePeers()
        return gone.isEmpty ? nil : gone.map(Self.describe).joined(separator: ", ") + (gone.count == 1 ? " is" : " are") + " no longer running"
    }

    private func inspect() {
        lock.lock()
        let since = waitingSince, what = waitingFor, context = context
        lock.unlock()
        guard let since else { return }
        let waited = Self.now - since
        let where_ = "while waiting in \(what)\(context.isEmpty ? "" : " at \(context)")"
        let gone = gonePeers()
        if !gone.isEmpty {
            end("\(gone.map(Self.describe).joined(separator: ", ")) \(gone.count == 1 ? "is" : "are") no longer running (died or was killed) \(where_); "
                + "the job cannot continue and no stop checkpoint will be written")
        }
        guard timeout > 0, waited > timeout else { return }
        let frozen = localPeers.filter { Self.state(of: $0.pid) == .stopped }
        let remote = peers.filter { $0.host != peers[rank].host }
        let culprit: String
        if !frozen.isEmpty {
            culprit = "\(frozen.map(Self.describe).joined(separator: ", ")) \(frozen.count == 1 ? "is" : "are") stopped (state T: SIGSTOP or a debugger)"
        } else {
            culprit = "every rank on this host is running, so a rank is late or hung"
                + (remote.isEmpty ? "" : "; ranks on other hosts: \(remote.map(Self.describe).joined(separator: ", "))")
        }
        end(String(format: "no word from a peer for %.0f s %@ (training.watchdog_seconds is %g): %@; ending the job",
                   waited, where_, timeout, culprit))
    }

    private func end(_ message: String) -> Never {
        FileHandle.standardError.write(Data("rank \(rank): watchdog: \(message)\n".utf8))
        _exit(Self.exitStatus)
    }

    private static var now: Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    static func describe(_ p: Peer) -> String { "rank \(p.rank) (pid \(p.pid) on \(p.host))" }

    enum ProcessState: Equatable { case running, stopped, gone }

    /// From `/proc/<pid>/stat`: the state letter follows the parenthesised command name.
    static func state(of pid: Int32) -> ProcessState {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return .gone }
        let letter = text[text.index(after: close)...].first { $0 != " " }
        switch letter {
        case "Z", "X", "x": return .gone
        case "T", "t": return .stopped
        default: return .running
        }
    }
}
