import Dispatch
import Foundation

/// Turns SIGINT/SIGTERM into a request to stop after the current step (then checkpoint and
/// exit 0), instead of dying mid-step. A second signal while stopping exits at once.
public final class StopSignal: @unchecked Sendable {
    public static let shared = StopSignal()
    private let lock = NSLock()
    private var requested: Int32?
    private var sources: [DispatchSourceSignal] = []

    /// The signal that asked to stop, if any.
    public var requestedBy: Int32? { lock.lock(); defer { lock.unlock() }; return requested }
    public var isRequested: Bool { requestedBy != nil }

    public func install() {
        guard sources.isEmpty else { return }
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in self?.receive(sig) }
            source.resume()
            sources.append(source)
        }
    }

    /// Also used by tests and by ranks told to stop by another rank.
    public func request(_ sig: Int32) { receive(sig) }

    private func receive(_ sig: Int32) {
        lock.lock()
        let second = requested != nil
        requested = requested ?? sig
        lock.unlock()
        if second {
            FileHandle.standardError.write("relief: second signal \(sig), exiting without a checkpoint (the last one is intact)\n".data(using: .utf8)!)
            exit(128 + sig)
        }
        FileHandle.standardError.write("relief: signal \(sig) received, stopping after this step and writing a checkpoint\n".data(using: .utf8)!)
    }
}
