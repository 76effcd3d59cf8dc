import Foundation
import Training
import XCTest

/// Every recipe in recipes/ reads without error (keys, values, the views rules), so a recipe
/// edited without a run to try it still fails here rather than at a user's first step. Model keys
/// are checked by the task, which needs the data, so the model sections are checked where each
/// model family's tests build its task.
final class ShippedRecipesTests: XCTestCase {
    func testEveryShippedRecipeReads() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("recipes")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 20, "recipes/ at \(folder.path)")
        for file in files {
            XCTAssertNoThrow(try Recipe.load(file: folder.appendingPathComponent(file).path), file)
        }
    }
}
