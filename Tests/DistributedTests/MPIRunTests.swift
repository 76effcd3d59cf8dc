import Foundation
import XCTest

/// Real multi-rank runs: `mpirun` launches the built `relief-bench allreduce --self-test`, whose
/// ranks check broadcast, allreduce, allgather, agreement and bucketed averaging for exact results.
final class MPIRunTests: XCTestCase {
    func testSelfTestOnTwoRanks() throws { try expectSelfTestPasses(ranks: 2) }
    func testSelfTestOnThreeRanks() throws { try expectSelfTestPasses(ranks: 3) }

    func testAbortingRankEndsTheJobWithItsMessage() throws {
        let (status, output) = try mpirun(ranks: 2, ["allreduce", "--abort-rank", "1"])
        XCTAssertEqual(status, 3, output)
        XCTAssertTrue(output.contains("rank 1: deliberate abort"), output)
    }

    private func expectSelfTestPasses(ranks: Int) throws {
        let (status, output) = try mpirun(ranks: ranks, ["allreduce", "--self-test"])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("self-test passed on \(ranks) rank(s) (MPI)"), output)
    }

    private func mpirun(ranks: Int, _ arguments: [String]) throws -> (Int32, String) {
        guard let mpirun = Self.findOnPath("mpirun") else { throw XCTSkip("mpirun is not on PATH") }
        guard let bench = Self.benchBinary() else { throw XCTSkip("relief-bench is not built next to the tests") }
        let process = Process()
        process.executableURL = mpirun
        process.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", bench.path] + arguments
        // The test process itself may run under mpirun; a nested launch must not inherit its job.
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("OMPI_") && !$0.key.hasPrefix("PMIX_") }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        // A hung job must fail the test, not the suite.
        let deadline = DispatchTime.now() + 120
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: deadline, execute: watchdog)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    private static func findOnPath(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// The products folder holding this test bundle also holds the package's executables.
    private static func benchBinary() -> URL? {
        var candidates: [URL] = []
        for start in [Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments[0])] + Bundle.allBundles.map(\.bundleURL) {
            var folder = start
            for _ in 0..<3 {
                candidates.append(folder.appendingPathComponent("relief-bench"))
                folder.deleteLastPathComponent()
            }
        }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates += ["release", "debug"].map { packageRoot.appendingPathComponent(".build/\($0)/relief-bench") }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }
}
