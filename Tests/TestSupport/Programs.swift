import Foundation

/// Finding and running the package's built programs from tests (multi-rank runs, signals).
public enum Programs {
    public static func onPath(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// A built executable of this package: the products folder holding the test bundle holds them.
    public static func built(_ name: String, filePath: String = #filePath) -> URL? {
        var candidates: [URL] = []
        for start in [Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments[0])] + Bundle.allBundles.map(\.bundleURL) {
            var folder = start
            for _ in 0..<3 {
                candidates.append(folder.appendingPathComponent(name))
                folder.deleteLastPathComponent()
            }
        }
        let packageRoot = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates += ["release", "debug"].map { packageRoot.appendingPathComponent(".build/\($0)/\(name)") }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// The environment for a child job: without the variables of an enclosing MPI job, and
    /// with root allowed (CI runs as root).
    public static var childEnvironment: [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("OMPI_") && !$0.key.hasPrefix("PMIX_") }
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        return env
    }

    /// Starts `executable` with output captured to a pipe.
    public static func start(_ executable: URL, _ arguments: [String]) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = childEnvironment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        return (process, pipe)
    }

    /// Runs to completion (terminated after `timeout` seconds so a hung job fails the test, not
    /// the suite); returns the exit status and the combined output.
    public static func run(_ executable: URL, _ arguments: [String], timeout: Double = 120) throws -> (status: Int32, output: String) {
        let (process, pipe) = try start(executable, arguments)
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
