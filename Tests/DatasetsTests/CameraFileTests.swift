import Datasets
import Foundation
import XCTest

/// FaceLift's `opencv_cameras.json`: exact round trips, the variants FaceLift files use, and
/// errors that name the file, the frame and the key.
final class CameraFileTests: XCTestCase {
    func temporaryPath() -> String {
        let path = NSTemporaryDirectory() + "relief-cams-\(UUID().uuidString).json"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testRoundTripIsExact() throws {
        // Values with full Double mantissas, tiny and huge magnitudes, and an awkward id.
        var frames = (0..<5).map { Fixtures.orbitCamera(view: $0, of: 5, width: 40, height: 30) }
        frames[1].fx = 1 / 3; frames[2].cy = 1e-17; frames[3].w2c[3] = -0.0; frames[4].w2c[7] = 123456789.123456789
        frames[0].filePath = "images/a \"quoted\" \\ name\t.png"
        let file = CameraFile(id: "subject \"7\"", frames: frames)
        let path = temporaryPath()
        try file.write(path)
        XCTAssertEqual(try CameraFile.read(path), file)
        // Readable by any JSON parser, with FaceLift's keys.
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        XCTAssertEqual(json["id"] as? String, "subject \"7\"")
        let f0 = (json["frames"] as! [[String: Any]])[0]
        XCTAssertEqual(Set(f0.keys), ["w", "h", "fx", "fy", "cx", "cy", "w2c", "file_path"])
        XCTAssertEqual((f0["w2c"] as! [[Double]]).map(\.count), [4, 4, 4, 4])
        XCTAssertEqual(f0["w"] as? Int, 40)
    }

    func testAcceptsFaceLiftVariants() throws {
        // A numeric id, a flat w2c, a 3×4 [R|t], integers for floats, no file_path.
        let text = #"""
            {"id": 17, "frames": [
              {"w": 512, "h": 512, "fx": 548, "fy": 548.5, "cx": 256, "cy": 256,
               "w2c": [1, 0, 0, 0, 0, 0, -1, 0, 0, 1, 0, 2.7, 0, 0, 0, 1], "file_path": "images/00.png"},
              {"w": 512, "h": 512, "fx": 548, "fy": 548, "cx": 256, "cy": 256,
               "w2c": [[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 2.7]]}]}
            """#
        let file = try CameraFile.decode(Data(text.utf8), source: "facelift.json")
        XCTAssertEqual(file.id, "17")
        XCTAssertEqual(file.frames[0].w2c, [1, 0, 0, 0, 0, 0, -1, 0, 0, 1, 0, 2.7, 0, 0, 0, 1])
        XCTAssertEqual(file.frames[1].w2c, file.frames[0].w2c)
        XCTAssertEqual(file.frames[0].fy, 548.5)
        XCTAssertEqual(file.frames[0].filePath, "images/00.png")
        XCTAssertEqual(file.frames[1].filePath, "images/cam_001.png")
        XCTAssertEqual(file.frames[0].centre, [0, -2.7, 0])
        let small = file.frames[0].resized(width: 128, height: 64)
        XCTAssertEqual(small.intrinsics, [137, 68.5625, 64, 32])
        XCTAssertNil(try CameraFile.decode(Data(#"{"frames": [{"w": 1, "h": 1, "fx": 1, "fy": 1, "cx": 0.5, "cy": 0.5, "w2c": \#(file.frames[0].w2c)}]}"#.utf8)).id)
    }

    func testErrorsNameFileFrameAndKey() throws {
        func assertFails(_ json: String, _ fragments: [String], line: UInt = #line) {
            XCTAssertThrowsError(try CameraFile.decode(Data(json.utf8), source: "s3/opencv_cameras.json"), line: line) { error in
                let text = "\(error)"
                for f in ["s3/opencv_cameras.json"] + fragments { XCTAssertTrue(text.contains(f), "'\(text)' lacks '\(f)'", line: line) }
            }
        }
        let good = #""w": 4, "h": 4, "fx": 1, "fy": 1, "cx": 2, "cy": 2, "w2c": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]"#
        assertFails("[1]", ["not a JSON object"])
        assertFails(#"{"id": 1}"#, ["'frames'"])
        assertFails(#"{"frames": []}"#, ["'frames' is empty"])
        assertFails(#"{"frames": [{\#(good)}, {"w": 4, "h": 4, "fy": 1, "cx": 2, "cy": 2, "w2c": [1]}]}"#, ["frame 1", "'fx'"])
        assertFails(#"{"frames": [{\#(good.replacingOccurrences(of: "[[1,0,0,0],", with: "[[1,0,0],"))}]}"#, ["frame 0", "'w2c'"])
        assertFails(#"{"frames": [{\#(good.replacingOccurrences(of: "\"w2c\": [[", with: "\"w2c\": [[\"a\","))}]}"#, ["frame 0", "'w2c'"])
        assertFails(#"{"frames": [{\#(good.replacingOccurrences(of: "\"w\": 4", with: "\"w\": 4.5"))}]}"#, ["frame 0", "'w'"])
        assertFails(#"{"frames": [{\#(good.replacingOccurrences(of: "\"fy\": 1", with: "\"fy\": \"1\""))}]}"#, ["frame 0", "'fy'"])
        assertFails(#"{"frames": [{\#(good), "file_path": 3}]}"#, ["frame 0", "'file_path'"])
        XCTAssertThrowsError(try CameraFile.read("/nonexistent/opencv_cameras.json")) {
            XCTAssertTrue("\($0)".contains("/nonexistent/opencv_cameras.json"))
        }
        var bad = CameraFile(id: "x", frames: [Fixtures.orbitCamera(view: 0, of: 1, width: 4, height: 4)])
        bad.frames[0].fx = .nan
        let path = temporaryPath()
        XCTAssertThrowsError(try bad.write(path)) { XCTAssertTrue("\($0)".contains(path) && "\($0)".contains("frame 0")) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }
}
