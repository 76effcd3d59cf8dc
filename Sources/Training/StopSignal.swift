import Dispatch
import Foundation

/// Turns SIGINT/SIGTERM/SIGUSR1 into a request to stop after the current step (then checkpoint
/// and exit 0), instead of dying mid-step. A second signal while stopping exits at once.
/// SIGUSR1 is the one to send `mpirun`: it forwards SIGUSR1 to every rank at once and waits for
/// them, while on SIGTERM/SIGINT it kills them `odls_base_sigkill_timeout` seconds after
/// forwarding (README.md, "Stopping a run").
public final class StopSignal: @unchecked Sendable {
    public static let shared = StopSignal()
    private let lock = NSLock()
    private var requested: Int32?
    private var sources: [DispatchSourceSignal] = []
    /// Says why no stop is possible (a peer rank is gone: the signal is `mpirun` ending the job).
    public var impossibleBecause: (@Sendable () -> String?)?

    /// The signal that asked to stop, if any.
    public var requestedBy: Int32? { lock.lock(); defer { lock.unlock() }; return requested }
    public var isRequested: Bool { requestedBy != nil }

    public func install() {
        guard sources.isEmpty else { return }
        for sig in [SIGINT, SIGTERM, SIGUSR1] {
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
        if let why = impossibleBecause?() {
            FileHandle.standardError.write(Data("relief: signal \(sig) received after \(why): mpirun is ending the job; no stop checkpoint can be written\n".utf8))
            _exit(1)
        }
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
