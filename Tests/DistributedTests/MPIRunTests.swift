import Foundation
import TestSupport
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
        let mpirun = try Programs.requireOnPath("mpirun"), bench = try Programs.requireBuilt("relief-bench")
        return try Programs.run(mpirun, ["--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", bench.path] + arguments)
    }
}
