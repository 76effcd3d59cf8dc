import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Running a misuse that must stop the process (a failed `check`) in a forked child, so that the
/// test process survives to look at how the child died and what it said.
///
/// The child inherits one thread, the caller's: the misuse must fail its check before any
/// threaded work (`Parallel`), which the child cannot run; one that gets that far hangs and is
/// killed after the timeout, which the caller reports as a failure. Build the inputs before the
/// call, in the parent.
public enum Misuse {
    public struct Outcome: CustomStringConvertible {
        /// The signal that ended the child, if one did.
        public let signal: Int32?
        /// The exit status, if the child exited.
        public let exitStatus: Int32?
        public let timedOut: Bool
        public let stderr: String

        /// Died of the trap a failed `check` (`fatalError`) ends in: ud2 (SIGILL) on x86-64, brk (SIGTRAP) on arm64.
        public var trapped: Bool { signal == SIGILL || signal == SIGTRAP }

        public var description: String {
            let end = timedOut ? "timed out" : signal.map { "died of signal \($0)" } ?? "exited with status \(exitStatus ?? -1)"
            return "child \(end); stderr: \(stderr.isEmpty ? "(empty)" : stderr)"
        }
    }

    /// Runs `body` in a forked child with its stderr captured; the child exits 0 if `body` returns.
    public static func run(timeout: Double = 60, _ body: () -> Void) -> Outcome {
        // A file, not a pipe: the parent only reads after the child has ended, so a long message
        // cannot fill a pipe and block the child.
        var template = Array((NSTemporaryDirectory() + "/relief-misuse-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { fatalError("Misuse.run: cannot create a temporary file: errno \(errno)") }
        let path = String(cString: template)
        defer { close(fd); unlink(path) }
        fflush(nil)   // nothing the parent buffered may be written twice

        let pid = fork()
        guard pid >= 0 else { fatalError("Misuse.run: fork failed: errno \(errno)") }
        if pid == 0 {
            // Die at once, without the runtime's crash backtrace (it would start a helper program).
            for crash in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGFPE, SIGABRT] { signal(crash, SIG_DFL) }
            dup2(fd, STDERR_FILENO)
            body()
            _exit(0)
        }

        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                timedOut = true
                break
            }
            usleep(10_000)
        }
        let stderr = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        // WIFSIGNALED / WTERMSIG / WEXITSTATUS are macros Swift does not import.
        let signal = status & 0x7f
        return Outcome(signal: !timedOut && signal != 0 && signal != 0x7f ? signal : nil,
                       exitStatus: !timedOut && signal == 0 ? (status >> 8) & 0xff : nil,
                       timedOut: timedOut, stderr: stderr)
    }

    /// nil when `body` stops the child by a trap and the child's stderr contains every one of
    /// `fragments`; otherwise what happened instead (for `XCTAssertNil`).
    public static func problem(expecting fragments: [String], timeout: Double = 60, _ body: () -> Void) -> String? {
        let outcome = run(timeout: timeout, body)
        if !outcome.trapped { return "expected a failed check, but the \(outcome)" }
        let missing = fragments.filter { !outcome.stderr.contains($0) }
        if !missing.isEmpty { return "the message lacks \(missing); \(outcome)" }
        return nil
    }
}
