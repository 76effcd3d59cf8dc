import Tensors

/// Renames checkpoint keys on the way into a model (`init_from`): take a subtree, strip a
/// prefix, add one, in that order. Prefixes name whole dotted components: `blocks.1` means
/// `blocks.1.…`, never `blocks.10.…` (a trailing dot is allowed and ignored).
public struct TensorKeyMapping: Equatable, Sendable, CustomStringConvertible {
    /// Keep only keys under this prefix, without it (e.g. `unet` from a combined checkpoint).
    public var subtree: String?
    /// Remove this prefix from keys that have it; other keys pass unchanged (e.g. `module`).
    public var stripPrefix: String?
    /// Put this prefix before every key (load a stand-alone model into a sub-module).
    public var addPrefix: String?

    public init(subtree: String? = nil, stripPrefix: String? = nil, addPrefix: String? = nil) {
        self.subtree = subtree.map(Self.component)
        self.stripPrefix = stripPrefix.map(Self.component)
        self.addPrefix = addPrefix.map(Self.component)
    }

    public static let identity = TensorKeyMapping()

    /// A prefix as written (`a.b.`) to its dotted components (`a.b`).
    public static func component(_ prefix: String) -> String {
        var p = prefix
        while p.hasSuffix(".") { p.removeLast() }
        return p
    }

    /// Whether `name` lies under the dotted `prefix` (the empty prefix holds everything).
    public static func name(_ name: String, isUnder prefix: String) -> Bool {
        let p = component(prefix)
        return p.isEmpty || name == p || name.hasPrefix(p + ".")
    }

    /// The key `key` becomes, or nil when the mapping drops it.
    public func map(_ key: String) -> String? {
        var k = key
        if let subtree, !subtree.isEmpty {
            guard k.hasPrefix(subtree + ".") else { return nil }
            k.removeFirst(subtree.count + 1)
        }
        if let stripPrefix, !stripPrefix.isEmpty, k.hasPrefix(stripPrefix + ".") { k.removeFirst(stripPrefix.count + 1) }
        if let addPrefix, !addPrefix.isEmpty { k = addPrefix + "." + k }
        return k
    }

    /// The renamed dictionary. Two keys landing on one name are an error naming both.
    public func apply(_ tensors: [String: Tensor], file: String) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:], from: [String: String] = [:]
        for key in tensors.keys.sorted() {
            guard let mapped = map(key) else { continue }
            if let other = from[mapped] {
                throw SafetensorsError(file: file, key: key, "and '\(other)' both become '\(mapped)' under \(self)")
            }
            from[mapped] = key
            out[mapped] = tensors[key]
        }
        return out
    }

    public var description: String {
        let parts = [subtree.map { "subtree '\($0)'" }, stripPrefix.map { "strip_prefix '\($0)'" }, addPrefix.map { "add_prefix '\($0)'" }]
            .compactMap { $0 }
        return parts.isEmpty ? "no key mapping" : parts.joined(separator: ", ")
    }
}
