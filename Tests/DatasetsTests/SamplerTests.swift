import Datasets
import Foundation
import Tensors
import XCTest

final class SamplerTests: XCTestCase {
    func testEverySampleOncePerEpochAcrossRanks() {
        for world in 1...3 {
            for (count, batch) in [(10, 2), (7, 3), (12, 4), (5, 4)] {
                var samplers = (0..<world).map { DistributedSampler(count: count, rank: $0, worldSize: world, batchSize: batch, seed: 9) }
                let steps = samplers[0].stepsPerEpoch
                var epochs = [[Int]]()
                for epoch in 0..<3 {
                    var seen = [Int]()
                    for step in 0..<steps {
                        for r in 0..<world {
                            let (cursor, indices) = samplers[r].next()
                            XCTAssertEqual(cursor, DistributedSampler.Cursor(epoch: epoch, step: step))
                            XCTAssertLessThanOrEqual(indices.count, batch)
                            seen += indices
                        }
                    }
                    XCTAssertEqual(seen.sorted(), Array(0..<count), "world \(world) count \(count) batch \(batch) epoch \(epoch)")
                    epochs.append(seen)
                    for r in 0..<world { XCTAssertEqual(samplers[r].cursor, DistributedSampler.Cursor(epoch: epoch + 1, step: 0)) }
                }
                // Reshuffled each epoch (seed + epoch), identically on every run.
                XCTAssertNotEqual(epochs[0], epochs[1])
                XCTAssertEqual(DistributedSampler.permutation(count: count, epoch: 1, shuffle: true, seed: 9),
                               DistributedSampler.permutation(count: count, epoch: 1, shuffle: true, seed: 9))
            }
        }
    }

    func testUnshuffledOrderAndBalancedRanks() {
        var a = DistributedSampler(count: 10, rank: 0, worldSize: 2, batchSize: 3, shuffle: false)
        var b = DistributedSampler(count: 10, rank: 1, worldSize: 2, batchSize: 3, shuffle: false)
        XCTAssertEqual(a.stepsPerEpoch, 2)
        XCTAssertEqual(a.next().indices, [0, 1, 2]); XCTAssertEqual(b.next().indices, [3, 4, 5])
        XCTAssertEqual(a.next().indices, [6, 7]); XCTAssertEqual(b.next().indices, [8, 9])
    }

    func testResumeFromSavedCursorContinuesIdentically() throws {
        for world in 1...3 {
            for rank in 0..<world {
                var straight = DistributedSampler(count: 23, rank: rank, worldSize: world, batchSize: 2, seed: 4)
                var reference = [[Int]]()
                for _ in 0..<20 { reference.append(straight.next().indices) }
                var first = DistributedSampler(count: 23, rank: rank, worldSize: world, batchSize: 2, seed: 4)
                for _ in 0..<7 { _ = first.next() }
                let saved = try JSONEncoder().encode(first.cursor)
                let cursor = try JSONDecoder().decode(DistributedSampler.Cursor.self, from: saved)
                var resumed = DistributedSampler(count: 23, rank: rank, worldSize: world, batchSize: 2, seed: 4, cursor: cursor)
                for i in 7..<20 { XCTAssertEqual(resumed.next().indices, reference[i], "world \(world) rank \(rank) step \(i)") }
            }
        }
    }

    func testRandomViewSelection() throws {
        let cameras = (0..<12).flatMap { Fixtures.orbitCamera(view: $0, of: 12, width: 8, height: 8).w2c.map { Float($0) } }
        var rng = Philox(seed: 3)
        for near in [false, true] {
            let selection = ViewSelection.random(inputs: 2, supervision: 3, nearInputs: near)
            var counts = [Int](repeating: 0, count: 12)
            for _ in 0..<200 {
                let views = try selection.choose(views: 12, w2c: cameras[...], rng: &rng)
                XCTAssertEqual(views.count, 5)
                XCTAssertEqual(Set(views).count, 5)
                XCTAssertTrue(views.allSatisfy { (0..<12).contains($0) })
                views.forEach { counts[$0] += 1 }
                if near {
                    // On a ring of 12 (30° apart), within 60° of an input means within 2 steps.
                    for s in views[2...] {
                        let gap = views[..<2].map { min(abs($0 - s), 12 - abs($0 - s)) }.min()!
                        XCTAssertLessThanOrEqual(gap, 2)
                    }
                }
            }
            XCTAssertTrue(counts.allSatisfy { $0 > 0 }, "every view gets drawn: \(counts)")
        }
        // Too few views within 60°: the closest ones are used.
        let wide = ViewSelection.random(inputs: 1, supervision: 6, nearInputs: true)
        for _ in 0..<20 {
            let views = try wide.choose(views: 12, w2c: cameras[...], rng: &rng)
            let gaps = views[1...].map { min(abs($0 - views[0]), 12 - abs($0 - views[0])) }.sorted()
            XCTAssertEqual(gaps, [1, 1, 2, 2, 3, 3])
        }
        XCTAssertEqual(try ViewSelection.fixed([0, 1, 2, 3, 4, 5]).choose(views: 12, w2c: cameras[...], rng: &rng), [0, 1, 2, 3, 4, 5])
        XCTAssertThrowsError(try ViewSelection.random(inputs: 8, supervision: 8, nearInputs: false).validate(views: 12))
        XCTAssertThrowsError(try ViewSelection.fixed([12]).validate(views: 12))
    }

    func testLoaderDeliversSamplerOrderAndResumes() throws {
        let root = try Fixtures.temporaryFolder("loader"), out = root + "/ds"
        defer { try? FileManager.default.removeItem(atPath: root) }
        for s in 0..<7 { try Fixtures.subject(root: root + "/renders", id: "s\(s)", index: s, views: 4, width: 8, height: 8) }
        var options = DatasetConverter.Options(inputs: [root + "/renders"], output: out)
        options.valFraction = 0
        options.shardSize = 3
        try DatasetConverter(options).run()
        let dataset = try ShardedDataset(out)
        let selection = ViewSelection.random(inputs: 1, supervision: 2, nearInputs: false)
        func run(from cursor: DistributedSampler.Cursor, batches: Int) throws -> [Batch] {
            let sampler = DistributedSampler(count: 7, rank: 1, worldSize: 2, batchSize: 2, seed: 5, cursor: cursor)
            let loader = try BatchLoader(dataset: dataset, sampler: sampler, selection: selection, background: .random, seed: 11, prefetch: 3)
            defer { loader.stop() }
            return try (0..<batches).map { _ in try loader.next() }
        }
        let straight = try run(from: .init(), batches: 8)
        var reference = DistributedSampler(count: 7, rank: 1, worldSize: 2, batchSize: 2, seed: 5)
        for batch in straight {
            let (cursor, indices) = reference.next()
            XCTAssertEqual(batch.samples, indices)
            XCTAssertEqual(batch.cursor, cursor)
            XCTAssertEqual(batch.next, reference.cursor)
            XCTAssertEqual(batch.images.shape, [indices.count, 3, 3, 8, 8])
        }
        // More ranks than samples left: the short rank gets an empty batch, not a crash.
        var short = (0..<3).map { DistributedSampler(count: 2, rank: $0, worldSize: 3, batchSize: 1, shuffle: false) }
        XCTAssertEqual(short.indices.map { short[$0].next().indices }, [[], [0], [1]])
        let assembler = BatchAssembler(dataset: dataset, selection: .fixed([0, 1]), background: .white, seed: 0)
        var scratch = [UInt8](repeating: 0, count: 8 * 8 * 4)
        let empty = try assembler.assemble([], cursor: .init(), next: .init(), scratch: &scratch)
        XCTAssertEqual(empty.images.shape, [0, 2, 3, 8, 8])
        XCTAssertEqual(empty.count, 0)

        let resumed = try run(from: straight[4].next, batches: 3)
        for (a, b) in zip(resumed, straight[5...]) {
            XCTAssertEqual(a.samples, b.samples)
            XCTAssertEqual(a.views, b.views)
            XCTAssertEqual(a.images.scalars, b.images.scalars)
            XCTAssertEqual(a.background.scalars, b.background.scalars)
        }
    }
}
