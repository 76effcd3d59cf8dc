import Foundation
import XCTest
@testable import Training

final class RunInfrastructureTests: XCTestCase {
    func testMetricsLogAppendsAndReadsBack() throws {
        let path = NSTemporaryDirectory() + "metrics-\(UUID().uuidString).jsonl"
        do {
            let log = try MetricsLog(path: path)
            try log.append(["loss": 0.5, "lr": 1e-3], step: 1)
            try log.append(["psnr": 21.5], step: 1, kind: "eval")
            try log.append(["loss": .nan], step: 2)
        }
        let reopened = try MetricsLog(path: path)  // a resumed run appends
        try reopened.append(["loss": 0.25], step: 3)
        let train = MetricsLog.read(path: path)
        XCTAssertEqual(train.map(\.step), [1, 2, 3])
        XCTAssertEqual(train[0].values["loss"], 0.5)
        XCTAssertNil(train[1].values["loss"], "non-finite values are written as null")
        XCTAssertEqual(MetricsLog.read(path: path, kind: "eval").first?.values["psnr"], 21.5)
    }

    func testProgressLineReportsRateAndETA() {
        var p = ProgressLine(totalSteps: 100)
        for step in 1...11 { p.mark(step: step, time: Double(step) * 0.5, samples: step * 4) }
        XCTAssertEqual(p.samplesPerSecond ?? 0, 8, accuracy: 1e-9)
        let line = p.line(step: 11, loss: 0.123456, learningRate: 3e-4)
        XCTAssertTrue(line.hasPrefix("step  11/100  loss 0.12346  lr 3.00e-04"), line)
        XCTAssertTrue(line.hasSuffix("8.00 samples/s  ETA 45s"), line)
        XCTAssertEqual(ProgressLine.duration(3725), "1h02m")
    }

    func testStopSignalIsRecordedNotFatal() {
        let s = StopSignal()
        XCTAssertFalse(s.isRequested)
        s.request(SIGTERM)
        XCTAssertEqual(s.requestedBy, SIGTERM)
    }
}

import Datasets

final class CurvePlotTests: XCTestCase {
    func testPlotDrawsTheCurveInItsColour() throws {
        var plot = CurvePlot(title: "loss")
        plot.add("train", (1...200).map { (x: Double($0), y: 2.0 / Double($0)) })
        let path = NSTemporaryDirectory() + "curve-\(UUID().uuidString).png"
        try plot.writePNG(path)
        let (pixels, w, h, c) = try PNG.read8(path)
        XCTAssertEqual([w, h, c], [640, 360, 3])
        let blue = CurvePlot.palette[0]
        var curvePixels = 0
        for i in stride(from: 0, to: pixels.count, by: 3) where (pixels[i], pixels[i + 1], pixels[i + 2]) == blue { curvePixels += 1 }
        XCTAssertGreaterThan(curvePixels, 500, "the curve spans the plot")
        // A falling curve: its first point is drawn near the top-left corner of the plot area.
        XCTAssertEqual(pixels[(31 * w + 70) * 3 ..< (31 * w + 70) * 3 + 3].elementsEqual([blue.0, blue.1, blue.2]) ||
                       pixels[(30 * w + 70) * 3 ..< (30 * w + 70) * 3 + 3].elementsEqual([blue.0, blue.1, blue.2]), true)
    }

    func testEmptyPlotStillWrites() throws {
        let path = NSTemporaryDirectory() + "curve-\(UUID().uuidString).png"
        try CurvePlot(title: "loss").writePNG(path)
        XCTAssertEqual(try PNG.info(path).width, 640)
    }
}
