import Foundation
import XCTest

/// A program a test needs: missing on a developer's machine, the test is skipped, saying why;
/// missing under CI (`CI=true`), the test fails, so a CI that cannot run it does not pass silently.
extension Programs {
    public static var underCI: Bool {
        ["true", "1", "yes"].contains(ProcessInfo.processInfo.environment["CI"]?.lowercased() ?? "")
    }

    /// A built executable of this package (`relief-train`, `relief-infer`, …).
    public static func requireBuilt(_ name: String, filePath: String = #filePath) throws -> URL {
        try require(built(name, filePath: filePath), "\(name) is not built next to the tests")
    }

    /// A program on PATH (`mpirun`, `pgrep`).
    public static func requireOnPath(_ name: String) throws -> URL {
        try require(onPath(name), "\(name) is not on PATH")
    }

    static func require(_ program: URL?, _ missing: String) throws -> URL {
        if let program { return program }
        if underCI { throw MissingProgram(description: "\(missing) (CI=true: a test that cannot run fails)") }
        throw XCTSkip(missing)
    }
}

public struct MissingProgram: Error, CustomStringConvertible {
    public let description: String
}
