import Diffusion
import XCTest

final class PredictionTypeTests: XCTestCase {
    func testParsesDiffusersNamesAndRejectsOthersNamingTheKey() throws {
        XCTAssertEqual(try PredictionType(diffusersName: "v_prediction"), .velocity)
        XCTAssertEqual(try PredictionType(diffusersName: "epsilon"), .epsilon)
        XCTAssertEqual(try PredictionType(diffusersName: "sample"), .sample)
        XCTAssertThrowsError(try PredictionType(diffusersName: "v")) { error in
            XCTAssertTrue("\(error)".contains("prediction_type"), "\(error)")
            XCTAssertTrue("\(error)".contains("v_prediction"), "\(error)")
        }
    }
}
