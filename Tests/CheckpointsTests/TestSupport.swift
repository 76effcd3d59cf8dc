import Foundation
import XCTest

/// A fresh temporary folder per test, removed afterwards.
func makeScratchFolder(_ name: String = #function) throws -> URL {
    let clean = name.filter { $0.isLetter || $0.isNumber }
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("relief-\(clean)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Runs a Python script; returns (exit status, stdout + stderr).
@discardableResult
func runPython(_ script: String, arguments: [String] = []) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Skips the calling test unless `python3` can import safetensors and numpy.
func requirePythonSafetensors() throws {
    let probe = try? runPython("import numpy, safetensors.numpy")
    if probe?.status != 0 { throw XCTSkip("python3 with safetensors + numpy is not available") }
}

/// Writes raw bytes as a safetensors file: 8-byte length + `header` + `data`.
func writeRawSafetensors(_ url: URL, header: String, data: [UInt8], declaredLength: UInt64? = nil) throws {
    var bytes: [UInt8] = []
    let h = Array(header.utf8)
    withUnsafeBytes(of: (declaredLength ?? UInt64(h.count)).littleEndian) { bytes += $0 }
    bytes += h + data
    try Data(bytes).write(to: url)
}

func floatBytes(_ values: [Float]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

/// Runs `body` with RLIMIT_FSIZE lowered: writes past `bytes` then fail with EFBIG, a real
/// mid-write failure like a full disk (root ignores permissions, so those cannot be used).
func withFileSizeLimit(_ bytes: Int, _ body: () throws -> Void) throws {
    var saved = rlimit()
    getrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved)
    let previousHandler = signal(SIGXFSZ, SIG_IGN)
    var limit = rlimit(rlim_cur: rlim_t(bytes), rlim_max: saved.rlim_max)
    guard setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit) == 0 else { throw XCTSkip("cannot lower RLIMIT_FSIZE") }
    defer {
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved)
        signal(SIGXFSZ, previousHandler)
    }
    try body()
}
