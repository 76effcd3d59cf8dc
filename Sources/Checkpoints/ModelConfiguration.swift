import Foundation

/// A model configuration that travels in checkpoint metadata (a JSON string in the safetensors
/// `__metadata__`) so that inference rebuilds the model from the checkpoint alone.
///
/// Checkpoints outlive the code that wrote them, so reading is versioned rather than synthesised:
/// the JSON carries `version`; a field the stored JSON lacks takes its value from
/// `defaults(forVersion:)` of the version that wrote it, so adding a field never makes an older
/// checkpoint unreadable. Rules for a configuration's author (ARCHITECTURE.md):
/// - a new field gets a default in `init()` and, if today's default is not what older code did,
///   `defaults(forVersion:)` returns the old behaviour for older versions;
/// - bump `version` whenever a field is added or a field's meaning changes;
/// - never rename or remove a field that checkpoints hold (add a new one instead).
/// A checkpoint of a newer version than the code knows is refused with a message.
public protocol ModelConfiguration: Codable, Equatable, Sendable {
    /// Today's defaults.
    init()
    /// The version this code writes.
    static var version: Int { get }
    /// The safetensors metadata key that holds `json()`.
    static var metadataKey: String { get }
    /// What a checkpoint written at `version` meant by the fields it does not have.
    static func defaults(forVersion version: Int) -> Self
}

/// A stored configuration that cannot be read: says which field and why.
public struct ModelConfigurationError: Error, CustomStringConvertible, LocalizedError {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
    public var errorDescription: String? { message }
}

extension ModelConfiguration {
    public static func defaults(forVersion version: Int) -> Self { Self() }

    /// Compact JSON with snake_case keys in sorted order and `version`.
    public func json() -> String {
        var object = Self.jsonObject(self)
        object["version"] = Self.version
        return String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// Reads what `json()` wrote, at this version or any older one.
    public static func fromJSON(_ text: String) throws -> Self {
        guard let stored = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw ModelConfigurationError("\(metadataKey) is not a JSON object: \(text.prefix(80))")
        }
        var version = 1  // written before configurations carried a version
        if let v = stored["version"] {
            guard let n = v as? Int, n >= 1 else {
                throw ModelConfigurationError("\(metadataKey) field 'version' is \(v); expected a whole number ≥ 1")
            }
            version = n
        }
        guard version <= Self.version else {
            throw ModelConfigurationError("\(metadataKey) is version \(version), written by a newer Relief; "
                                          + "this build reads versions up to \(Self.version)")
        }
        var merged = jsonObject(defaults(forVersion: version))
        for (key, value) in stored where key != "version" { merged[key] = value }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(Self.self, from: try JSONSerialization.data(withJSONObject: merged))
        } catch let error as DecodingError {
            throw ModelConfigurationError("\(metadataKey) (version \(version)): \(Self.describe(error))")
        }
    }

    private static func jsonObject(_ value: Self) -> [String: Any] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try! JSONSerialization.jsonObject(with: try! encoder.encode(value)) as! [String: Any]
    }

    private static func describe(_ error: DecodingError) -> String {
        func field(_ path: [CodingKey]) -> String { path.map(\.stringValue).joined(separator: ".") }
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            return "field '\(field(c.codingPath))': \(c.debugDescription)"
        case .keyNotFound(let key, let c):
            return "field '\(field(c.codingPath + [key]))' is missing"
        @unknown default:
            return "\(error)"
        }
    }
}
