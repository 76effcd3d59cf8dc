import Foundation

/// Runs a PyTorch peer script (scripts/peers/) with python3 and returns the JSON object of its
/// last output line, or nil, with a note, when it fails (python3, torch or diffusers missing).
func runPeerScript(_ script: String, arguments: [String]) throws -> [String: Any]? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0,
          let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
          let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
        print("peer: \(script) failed (exit \(process.terminationStatus)); needs python3 with torch and diffusers")
        return nil
    }
    return json
}
