import ArgumentParser
import Datasets
import Foundation
import Tensors

/// Data pipeline speed: render folders → shards (conversion rate), raw view reads (vs h5py on the
/// same shards, when python3 has h5py), and prefetched loader batches against what a GS-LRM
/// reconstructor step costs at this machine's sgemm ceiling.
struct LoaderBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loader",
        abstract: "Shard conversion, view reads (vs h5py) and loader batches (vs reconstructor consumption).")

    @Option(help: "Existing dataset folder (default: synthesise renders and convert them in a temporary folder).")
    var dataset: String?
    @Option(help: "Synthetic subjects.") var subjects = 24
    @Option(help: "Synthetic views per subject.") var views = 32
    @Option(help: "Synthetic image side.") var resolution = 256
    @Option(help: "Dataset image side (default: the synthetic side; smaller measures antialiased resizing).") var store: Int?
    @Option(help: "Deflate level of the synthetic dataset.") var compression = 1
    @Option(help: "Samples per batch.") var batch = 4
    @Option(help: "Input views per sample.") var inputs = 4
    @Option(help: "Supervision views per sample.") var supervision = 4
    @Option(help: "Batches to time.") var batches = 60
    @Option(help: "Reconstructor patch size (for the consumption estimate).") var patch = 16
    @Option(help: "Reconstructor width.") var width = 384
    @Option(help: "Reconstructor transformer layers.") var layers = 8
    @Option(help: "GFLOP/s the reconstructor could reach at best (DESIGN: 360 with AVX-512 sgemm); high keeps the headroom conservative.")
    var gflops = 360.0

    func run() throws {
        var folder = dataset ?? ""
        var scratchRoot: String?
        defer { if let scratchRoot { try? FileManager.default.removeItem(atPath: scratchRoot) } }
        if dataset == nil {
            let root = NSTemporaryDirectory() + "relief-loader-bench-\(getpid())"
            scratchRoot = root
            folder = root + "/dataset"
            try synthesise(root + "/renders")
            var options = DatasetConverter.Options(inputs: [root + "/renders"], output: folder, resolution: store)
            options.valFraction = 0
            options.shardSize = 8
            options.compression = compression
            let t = Clock.now
            _ = try DatasetConverter(options).run()
            let s = Clock.seconds(since: t)
            print(String(format: "convert: %d subjects × %d views %d² → %d² in %.2f s = %.1f subjects/s (%.0f views/s, %d threads)",
                         subjects, views, resolution, store ?? resolution, s, Double(subjects) / s, Double(subjects * views) / s, Parallel.threads))
        }
        let data = try ShardedDataset(folder)
        let viewBytes = data.height * data.width * 4

        // Raw reads: every view of every sample, one hyperslab (= one chunk) each.
        var buffer = [UInt8](repeating: 0, count: viewBytes)
        var best = Double.infinity
        for _ in 0..<3 {
            let t = Clock.now
            for i in 0..<data.count { for v in 0..<data.views { try buffer.withUnsafeMutableBytes { try data.readView(i, view: v, into: $0.baseAddress!) } } }
            best = min(best, Clock.seconds(since: t))
        }
        let views = data.count * data.views
        let ours = Double(views * viewBytes) / best / 1e6
        print(String(format: "relief reads: %d views in %.3f s = %.0f views/s, %.0f MB/s", views, best, Double(views) / best, ours))
        if let theirs = h5pyRate(folder) {
            print(String(format: "h5py reads:   %.0f views/s, %.0f MB/s  → relief/h5py = %.2f×", theirs / Double(viewBytes) * 1e6, theirs, ours / theirs))
        } else {
            print("h5py reads:   skipped (python3 with h5py not found; pip install h5py)")
        }

        // Prefetched batches, consumed as fast as they come.
        let selection = ViewSelection.random(inputs: inputs, supervision: supervision, nearInputs: false)
        let sampler = DistributedSampler(count: data.count, batchSize: min(batch, data.count), seed: 1)
        let loader = try BatchLoader(dataset: data, sampler: sampler, selection: selection, background: .random, seed: 1, prefetch: 2)
        _ = try loader.next()
        let t = Clock.now
        var samples = 0
        for _ in 0..<batches { samples += try loader.next().count }
        let perBatch = Clock.seconds(since: t) / Double(batches)
        loader.stop()
        print(String(format: "loader: %.2f ms/batch (%d samples × %d views of %d², background random) = %.0f samples/s",
                     perBatch * 1e3, batch, inputs + supervision, data.height, Double(samples) / (perBatch * Double(batches))))

        // What the reconstructor needs: a forward+backward step over batch × inputs × (H/p)² tokens,
        // ≈ 3 × forward FLOPs of `layers` transformer blocks (rasterizer and decoder not counted),
        // at the best sgemm rate: a lower bound on its step time, so the headroom is conservative.
        let tokens = Double(inputs * (data.height / patch) * (data.width / patch))
        let d = Double(width)
        let forward = Double(layers) * (24 * tokens * d * d + 4 * tokens * tokens * d)
        let flops = 3 * forward * Double(batch)
        let ceiling = gflops
        let step = flops / (ceiling * 1e9)
        print(String(format: "reconstructor step (≥ %.0f GFLOP at %.0f GFLOP/s, %d layers, width %d, patch %d): ≥ %.2f s/batch",
                     flops / 1e9, ceiling, layers, width, patch, step))
        print(String(format: "loader headroom: %.0f× faster than the reconstructor consumes (bar: 10×)", step / perBatch))
    }

    /// Render folders with head-like content: an antialiased ellipse of shaded, lightly textured colour.
    func synthesise(_ root: String) throws {
        let n = resolution
        for s in 0..<subjects {
            let folder = root + String(format: "/subject%04d", s)
            try FileManager.default.createDirectory(atPath: folder + "/images", withIntermediateDirectories: true)
            var frames = [CameraFrame]()
            var pixels = [UInt8](repeating: 0, count: n * n * 4)
            for v in 0..<views {
                let azimuth = Float(v) / Float(views) * 2 * .pi
                let angle = Double(azimuth)
                let eye = SIMD3<Double>(2.7 * cos(angle), 2.7 * sin(angle), 0)
                let forward = -eye / 2.7, right = SIMD3<Double>(-sin(angle), cos(angle), 0), down = SIMD3<Double>(0, 0, -1)
                var w2c = [Double]()
                for r in [right, down, forward] { w2c += [r.x, r.y, r.z, -(r * eye).sum()] }
                w2c += [0, 0, 0, 1]
                let focal = 0.5 * Double(n) / tan(25 * Double.pi / 180)
                let frame = CameraFrame(width: n, height: n, fx: focal, fy: focal, cx: Double(n) / 2, cy: Double(n) / 2, w2c: w2c,
                                        filePath: String(format: "images/cam_%03d.png", v))
                var hash = UInt32(truncatingIfNeeded: s &* 7919 &+ v &* 104_729)
                for y in 0..<n {
                    for x in 0..<n {
                        let u = (Float(x) + 0.5) / Float(n) * 2 - 1, w = (Float(y) + 0.5) / Float(n) * 2 - 1
                        let r = (u * u / 0.36 + w * w / 0.56).squareRoot()
                        let a = min(max((1 - r) * Float(n) / 4, 0), 1)
                        hash = hash &* 1_664_525 &+ 1_013_904_223
                        let noise = Float(hash >> 29) - 3.5
                        let shade = 0.55 + 0.35 * cos(u * 2 + azimuth) * (1 - w * w)
                        let p = (y * n + x) * 4
                        pixels[p] = UInt8(min(max(255 * shade * 0.95 + noise, 0), 255))
                        pixels[p + 1] = UInt8(min(max(255 * shade * 0.75 + noise, 0), 255))
                        pixels[p + 2] = UInt8(min(max(255 * shade * 0.62 + noise, 0), 255))
                        pixels[p + 3] = UInt8(a * 255 + 0.5)
                        if a == 0 { pixels[p] = 0; pixels[p + 1] = 0; pixels[p + 2] = 0 }
                    }
                }
                try pixels.withUnsafeBufferPointer { try PNG.write(folder + "/" + frame.filePath, uint8: $0, width: n, height: n, channels: 4, compressionLevel: 1) }
                frames.append(frame)
            }
            try CameraFile(id: "subject\(s)", frames: frames).write(folder + "/opencv_cameras.json")
        }
    }

    /// h5py's MB/s reading the same views the same way (best of three), or nil without h5py.
    func h5pyRate(_ folder: String) -> Double? {
        let script = """
        import h5py, json, sys, time
        folder = sys.argv[1]
        files = [s["file"] for s in json.load(open(folder + "/manifest.json"))["shards"]]
        shards = [h5py.File(folder + "/" + f, "r") for f in files]
        best = float("inf"); total = 0
        for _ in range(3):
            t = time.perf_counter(); total = 0
            for f in shards:
                images = f["images"]
                for i in range(images.shape[0]):
                    for v in range(images.shape[1]):
                        total += images[i, v].nbytes
            best = min(best, time.perf_counter() - t)
        print(total / best / 1e6)
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, folder]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return Double(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
