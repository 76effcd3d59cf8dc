import Distributed
import XCTest

final class SingleProcessTests: XCTestCase {
    func testWorldIsSingleProcessOutsideMPIRun() throws {
        try XCTSkipIf(World.isLaunchedByMPI, "running under mpirun")
        let comm = try World.communicator()
        XCTAssertTrue(comm is SingleProcessCommunicator)
        XCTAssertTrue(comm === (try World.communicator()), "one communicator per process")
        XCTAssertEqual([comm.rank, comm.size, comm.localRank, comm.localSize], [0, 1, 0, 1])
    }

    func testCollectiveSelfCheckPasses() throws {
        XCTAssertEqual(try CollectiveSelfCheck.run(SingleProcessCommunicator()), [])
    }

    func testCollectivesAreIdentityWithMPIsArgumentChecks() throws {
        let comm = SingleProcessCommunicator()
        var values: [Float] = [1, -2, 3.5]
        try comm.allreduceSum(&values)
        try comm.allreduceAverage(&values)
        XCTAssertEqual(values, [1, -2, 3.5])
        XCTAssertEqual(try comm.allgather(Int64(42)), [42])
        XCTAssertTrue(try comm.anyTrue(true))
        XCTAssertFalse(try comm.allTrue(false))
        XCTAssertEqual(try comm.broadcast(string: "recipe"), "recipe")
        var x = 5
        XCTAssertThrowsError(try comm.broadcast(&x, root: 1)) { error in
            XCTAssertTrue("\(error)".contains("rank 0") && "\(error)".contains("invalid root 1"), "\(error)")
        }
    }

    func testBucketLayoutIsSlicesFromTheEnd() {
        XCTAssertEqual(GradientBucketer.layout(count: 10, bucketElements: 4), [6..<10, 2..<6, 0..<2])
        XCTAssertEqual(GradientBucketer.layout(count: 8, bucketElements: 4), [4..<8, 0..<4])
        XCTAssertEqual(GradientBucketer.layout(count: 3, bucketElements: 100), [0..<3])
        XCTAssertEqual(GradientBucketer.layout(count: 0, bucketElements: 4), [])
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: 100 << 20)
        defer { buffer.deallocate() }
        let bucketer = GradientBucketer(buffer: buffer, communicator: SingleProcessCommunicator())
        XCTAssertEqual(bucketer.buckets.count, 16, "25 MB default buckets over 400 MB")
        XCTAssertEqual(bucketer.buckets.first, (100 << 20) - (25 << 18) ..< (100 << 20))
    }

    // Marking order across ranks: `CollectiveSelfCheck`'s bucketed steps, run on 2 and 3 ranks by
    // MPIRunTests (one process cannot show it: its allreduce is the identity).
}
