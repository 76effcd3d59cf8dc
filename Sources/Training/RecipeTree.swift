import Yams

/// A recipe's YAML as a tree that remembers where each value came from (file and line, or
/// the `--set` override that put it there), so every error can point at it.
public indirect enum RecipeTree {
    case scalar(String, origin: RecipeOrigin)
    case mapping([(key: String, value: RecipeTree)], origin: RecipeOrigin)
    case sequence([RecipeTree], origin: RecipeOrigin)

    public var origin: RecipeOrigin {
        switch self {
        case .scalar(_, let o), .mapping(_, let o), .sequence(_, let o): return o
        }
    }

    /// Parses YAML text; `file` names it in errors.
    public static func parse(_ yaml: String, file: String) throws -> RecipeTree {
        let node: Node?
        do { node = try Yams.compose(yaml: yaml) } catch {
            throw RecipeError(file: file, line: nil, key: nil, message: "is not valid YAML: \(error)")
        }
        guard let node else { return .mapping([], origin: RecipeOrigin(file: file, line: 1)) }
        return try RecipeTree(node, file: file, path: "")
    }

    init(_ node: Node, file: String, path: String) throws {
        let origin = RecipeOrigin(file: file, line: node.mark?.line)
        switch node {
        case .scalar(let s): self = .scalar(s.string, origin: origin)
        case .sequence(let seq): self = .sequence(try seq.map { try RecipeTree($0, file: file, path: path) }, origin: origin)
        case .mapping(let map):
            var pairs: [(key: String, value: RecipeTree)] = []
            for (k, v) in map {
                guard let key = k.scalar?.string else {
                    throw RecipeError(file: file, line: k.mark?.line, key: path, message: "has a key that is not a plain name")
                }
                let child = path.isEmpty ? key : path + "." + key
                if pairs.contains(where: { $0.key == key }) {
                    throw RecipeError(file: file, line: k.mark?.line, key: child, message: "appears twice")
                }
                pairs.append((key, try RecipeTree(v, file: file, path: child)))
            }
            self = .mapping(pairs, origin: origin)
        }
    }

    /// Sets `dotted.path` to a YAML scalar, creating mappings on the way (`--set a.b=1`).
    public mutating func set(_ dottedPath: String, to value: String) throws {
        let parts = dottedPath.split(separator: ".").map(String.init)
        guard !parts.isEmpty, !parts.contains(where: \.isEmpty) else {
            throw RecipeError(file: "--set", line: nil, key: dottedPath, message: "is not a dotted key path")
        }
        let origin = RecipeOrigin(file: "--set \(dottedPath)=\(value)", line: nil)
        let parsed: RecipeTree
        if let node = try? Yams.compose(yaml: value), case .scalar = node { parsed = .scalar(node.scalar!.string, origin: origin) }
        else if let node = try? Yams.compose(yaml: value) {
            parsed = (try? RecipeTree(node, file: origin.file, path: dottedPath))?.placed(at: origin) ?? .scalar(value, origin: origin)
        }
        else { parsed = .scalar(value, origin: origin) }
        try set(parts[...], parsed, fullPath: dottedPath)
    }

    private mutating func set(_ parts: ArraySlice<String>, _ value: RecipeTree, fullPath: String) throws {
        guard case .mapping(var pairs, let origin) = self else {
            throw RecipeError(file: "--set", line: nil, key: fullPath, message: "goes through a value that is not a section")
        }
        let key = parts.first!
        if parts.count == 1 {
            if let i = pairs.firstIndex(where: { $0.key == key }) { pairs[i].value = value } else { pairs.append((key, value)) }
        } else {
            var child: RecipeTree = .mapping([], origin: value.origin)
            if let i = pairs.firstIndex(where: { $0.key == key }) { child = pairs[i].value }
            try child.set(parts.dropFirst(), value, fullPath: fullPath)
            if let i = pairs.firstIndex(where: { $0.key == key }) { pairs[i].value = child } else { pairs.append((key, child)) }
        }
        self = .mapping(pairs, origin: origin)
    }

    /// Where the value at `dotted.path` was written, if it is there.
    public func origin(of dottedPath: String) -> RecipeOrigin? {
        var tree = self
        for part in dottedPath.split(separator: ".") {
            guard case .mapping(let pairs, _) = tree, let child = pairs.first(where: { $0.key == part })?.value else { return nil }
            tree = child
        }
        return tree.origin
    }

    /// The same tree with every origin replaced: a `--set` value has no line of its own.
    func placed(at origin: RecipeOrigin) -> RecipeTree {
        switch self {
        case .scalar(let s, _): return .scalar(s, origin: origin)
        case .mapping(let pairs, _): return .mapping(pairs.map { ($0.key, $0.value.placed(at: origin)) }, origin: origin)
        case .sequence(let items, _): return .sequence(items.map { $0.placed(at: origin) }, origin: origin)
        }
    }

    /// Every value by its dotted key path (a list as its YAML text).
    public func leaves(prefix: String = "") -> [String: String] {
        guard case .mapping(let pairs, _) = self else { return [prefix: yaml()] }
        var out: [String: String] = [:]
        for (key, value) in pairs { out.merge(value.leaves(prefix: prefix.isEmpty ? key : prefix + "." + key)) { $1 } }
        return out
    }

    /// The keys whose values differ from `other`'s, sorted, each with both values
    /// (`optimizer.lr: 0.001 → 0.002`; a key on one side only shows "(absent)" on the other).
    public func differences(from other: RecipeTree) -> [String] {
        let mine = leaves(), theirs = other.leaves()
        return Set(mine.keys).union(theirs.keys).sorted().compactMap { key in
            guard mine[key] != theirs[key] else { return nil }
            return "\(key): \(theirs[key] ?? "(absent)") → \(mine[key] ?? "(absent)")"
        }
    }

    /// YAML text of this tree (for the copy of the recipe saved with each checkpoint).
    public func yaml(indent: Int = 0) -> String {
        let pad = String(repeating: "  ", count: indent)
        switch self {
        case .scalar(let s, _): return s
        case .sequence(let items, _):
            return "[" + items.map { $0.yaml() }.joined(separator: ", ") + "]"
        case .mapping(let pairs, _):
            return pairs.map { key, value in
                if case .mapping(let inner, _) = value, !inner.isEmpty {
                    return "\(pad)\(key):\n" + value.yaml(indent: indent + 1)
                }
                return "\(pad)\(key): \(value.yaml())"
            }.joined(separator: "\n") + (indent == 0 ? "\n" : "")
        }
    }
}

/// Where a recipe value came from.
public struct RecipeOrigin: CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var description: String { line.map { "\(file):\($0)" } ?? file }
}

/// A recipe problem, found before training starts: names the key and where it was written.
public struct RecipeError: Error, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var key: String?
    public var message: String

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        if let key, !key.isEmpty { return "\(place): \(key) \(message)" }
        return "\(place): \(message)"
    }
}
