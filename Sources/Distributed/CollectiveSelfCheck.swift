/// Runs every collective on values whose results are known exactly (small integers, so float
/// sums are exact in any order) and reports each mismatch. Run under `mpirun` by
/// `relief-bench allreduce --self-test`, which is how the tests check real multi-rank behaviour.
public enum CollectiveSelfCheck {
    /// Descriptions of failed checks; empty when everything matched.
    public static func run(_ comm: any Communicator) throws -> [String] {
        var failures: [String] = []
        func expect(_ ok: Bool, _ what: @autoclosure () -> String) {
            if !ok { failures.append("rank \(comm.rank): \(what())") }
        }
        let r = comm.rank, n = comm.size
        let rankSum = n * (n + 1) / 2  // Σ (rank + 1)

        // broadcast: from the first and from the last rank, fixed and variable length.
        var floats = (0..<1000).map { r == 0 ? Float($0) * 0.5 + 7 : -1 }
        try comm.broadcast(&floats, root: 0)
        expect(floats == (0..<1000).map { Float($0) * 0.5 + 7 }, "broadcast of 1000 floats from root 0")
        var seed: UInt64 = r == n - 1 ? 0xDEAD_BEEF_1234 : 0
        try comm.broadcast(&seed, root: n - 1)
        expect(seed == 0xDEAD_BEEF_1234, "broadcast of a UInt64 from root \(n - 1): got \(seed)")
        let recipe = try comm.broadcast(string: r == 0 ? "model: gslrm\nsteps: 10\n" : "", root: 0)
        expect(recipe == "model: gslrm\nsteps: 10\n", "broadcast of a string: got \(recipe.debugDescription)")

        // allreduce: rank r contributes (r + 1) × pattern.
        let count = 100_003
        var sums = (0..<count).map { Float((r + 1) * ($0 % 101 - 50)) }
        try comm.allreduceSum(&sums)
        let firstWrong = (0..<count).first { sums[$0] != Float(rankSum * ($0 % 101 - 50)) }
        expect(firstWrong == nil, "float allreduce: element \(firstWrong ?? 0) is \(sums[firstWrong ?? 0])")
        var doubles = (0..<1000).map { Double(r + 1) * (Double($0) + 0.25) * 1e12 }
        try comm.allreduceSum(&doubles)
        expect(doubles == (0..<1000).map { Double(rankSum) * (Double($0) + 0.25) * 1e12 }, "double allreduce")
        var mean = [Float](repeating: Float(2 * (r + 1)), count: 10)
        try comm.allreduceAverage(&mean)
        expect(mean.allSatisfy { $0 == Float(n + 1) }, "allreduceAverage: got \(mean[0]), expected \(n + 1)")

        // allgather and agreement.
        let ranks = try comm.allgather(Int64(10 * r + 1))
        expect(ranks == (0..<n).map { Int64(10 * $0 + 1) }, "allgather: got \(ranks)")
        expect(try comm.anyTrue(r == n - 1) == true, "agree(.any) with one true rank")
        expect(try comm.anyTrue(false) == false, "agree(.any) of all false")
        expect(try comm.allTrue(true) == true, "agree(.all) of all true")
        expect(try comm.allTrue(r == 0) == (n == 1), "agree(.all) with only rank 0 true")

        // Bucketed reduction over three steps (the last summing, not averaging); each rank marks
        // ranges in its own sizes and order (even ranks back to front, like backward; odd ranks
        // front to back, completing the last-launched bucket first), which must not matter: a
        // bucketer launching buckets as they complete rather than in bucket order pairs
        // different buckets across ranks.
        let gradientCount = 10_007
        let gradients = UnsafeMutableBufferPointer<Float>.allocate(capacity: gradientCount)
        defer { gradients.deallocate() }
        let bucketer = GradientBucketer(buffer: gradients, bucketBytes: 4096, communicator: comm)
        expect(bucketer.buckets.count == 10 && bucketer.buckets[0] == 8983..<10_007 && bucketer.buckets[9] == 0..<791,
               "bucket layout \(bucketer.buckets)")
        for step in 0..<3 {
            for i in 0..<gradientCount { gradients[i] = Float(2 * (r + 1) * (i % 13 - 6 + step)) }
            let chunk = 300 + 77 * r
            if step == 1 { try bucketer.startBucket(2) }  // explicit early launch of buckets 0...2
            let starts = Array(stride(from: 0, to: gradientCount, by: chunk))
            for start in r % 2 == 0 ? starts.reversed() : starts {
                try bucketer.markReady(start..<min(gradientCount, start + chunk))
            }
            let average = step < 2
            try bucketer.finish(average: average)
            // Σ over ranks of 2(r+1)·k = 2·rankSum·k; the mean (n+1)·k. Both exact.
            let scale = average ? n + 1 : 2 * rankSum
            let wrong = (0..<gradientCount).first { gradients[$0] != Float(scale * ($0 % 13 - 6 + step)) }
            expect(wrong == nil, "bucketed \(average ? "average" : "sum") step \(step): element \(wrong ?? 0) is \(gradients[wrong ?? 0])")
        }

        // The same through blocking reductions per bucket.
        let blocking = GradientBucketer(buffer: gradients, bucketBytes: 4096, overlap: false, communicator: comm)
        for i in 0..<gradientCount { gradients[i] = Float(2 * (r + 1) * (i % 7)) }
        try blocking.markReady(5000..<gradientCount)
        try blocking.markReady(0..<5000)
        try blocking.finish()
        let wrongBlocking = (0..<gradientCount).first { gradients[$0] != Float((n + 1) * ($0 % 7)) }
        expect(wrongBlocking == nil, "blocking bucketed average: element \(wrongBlocking ?? 0) is \(gradients[wrongBlocking ?? 0])")

        // Errors come back as thrown errors naming the call (MPI_ERRORS_RETURN), not aborts.
        var probe: Int32 = 0
        do {
            try comm.broadcast(&probe, root: n)
            expect(false, "broadcast from invalid root \(n) did not throw")
        } catch let error as DistributedError {
            expect(error.description.contains("root"), "invalid-root error does not say so: \(error)")
        }

        try comm.barrier()
        return failures
    }
}
