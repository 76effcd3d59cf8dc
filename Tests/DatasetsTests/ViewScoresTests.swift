import Datasets
import Tensors
import XCTest

/// Per-slot PSNR/SSIM means, each slot over the subjects that scored it.
final class ViewScoresTests: XCTestCase {
    func testViewScoresAverageEachSlotOverSubjects() {
        var scores = ViewScores(views: 2)
        let truth = Tensor(repeating: 0.5, shape: [2, 3, 16, 16])
        scores.add(truth + 0.1, truth)            // 20 dB in both slots
        scores.add(truth + 0.01, truth, slots: [1])  // 40 dB in slot 1 only
        XCTAssertEqual(scores.counts, [1, 2])
        XCTAssertEqual(scores.mean(0).psnr, 20, accuracy: 1e-3)
        XCTAssertEqual(scores.mean(1).psnr, 30, accuracy: 1e-3)
        XCTAssertEqual(scores.mean(over: [0, 1]).psnr, 25, accuracy: 1e-3)
    }
}
