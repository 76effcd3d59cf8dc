/// Typed, checked reading of one recipe section. Every key read is remembered; `finish()`
/// rejects the keys nobody read, so a misspelt key stops the run instead of being ignored.
public final class RecipeSection {
    public let path: String
    let pairs: [(key: String, value: RecipeTree)]
    let origin: RecipeOrigin
    private var read: Set<String> = []

    public init(_ tree: RecipeTree, path: String = "") throws {
        self.path = path
        self.origin = tree.origin
        guard case .mapping(let pairs, _) = tree else {
            throw RecipeError(file: tree.origin.file, line: tree.origin.line, key: path, message: "must be a section of key: value lines")
        }
        self.pairs = pairs
    }

    func fullKey(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func value(_ key: String) -> RecipeTree? {
        read.insert(key)
        return pairs.first { $0.key == key }?.value
    }

    public func has(_ key: String) -> Bool { pairs.contains { $0.key == key } }

    /// An error about `key`, placed where its value was written (its line, or the `--set` that
    /// gave it), else at the section.
    func error(_ key: String, _ tree: RecipeTree?, _ message: String) -> RecipeError {
        let o = tree?.origin ?? pairs.first { $0.key == key }?.value.origin ?? origin
        return RecipeError(file: o.file, line: o.line, key: fullKey(key), message: message)
    }

    /// A required key is absent: a present key close to it is most likely it, misspelt, so the
    /// error names that one, where it was written.
    func missing(_ key: String) -> RecipeError {
        let near = pairs.filter { $0.key != key && !read.contains($0.key) && editDistance($0.key, key) <= 3 }
            .min { (editDistance($0.key, key), $0.key) < (editDistance($1.key, key), $1.key) }
        guard let near else { return error(key, nil, "is required") }
        return error(near.key, near.value, "is not a known key (did you mean '\(key)'? it is required)")
    }

    func scalar(_ key: String) throws -> (String, RecipeTree)? {
        guard let v = value(key) else { return nil }
        guard case .scalar(let s, _) = v else { throw error(key, v, "must be a single value") }
        return (s, v)
    }

    public func string(_ key: String, default def: String? = nil, oneOf choices: [String]? = nil) throws -> String {
        guard let (s, tree) = try scalar(key) else {
            guard let def else { throw missing(key) }
            return def
        }
        if let choices, !choices.contains(s) {
            throw error(key, tree, "is '\(s)'; expected one of \(choices.joined(separator: ", "))")
        }
        return s
    }

    public func optionalString(_ key: String) throws -> String? {
        guard let (s, _) = try scalar(key), s != "null", s != "~", !s.isEmpty else { return nil }
        return s
    }

    public func int(_ key: String, default def: Int? = nil, min: Int? = nil, max: Int? = nil) throws -> Int {
        guard let (s, tree) = try scalar(key) else {
            guard let def else { throw missing(key) }
            return def
        }
        guard let v = Int(s.replacingOccurrences(of: "_", with: "")) else { throw error(key, tree, "is '\(s)'; expected a whole number") }
        if let min, v < min { throw error(key, tree, "is \(v); must be at least \(min)") }
        if let max, v > max { throw error(key, tree, "is \(v); must be at most \(max)") }
        return v
    }

    public func double(_ key: String, default def: Double? = nil, min: Double? = nil, max: Double? = nil,
                       exclusiveMin: Bool = false) throws -> Double {
        guard let (s, tree) = try scalar(key) else {
            guard let def else { throw missing(key) }
            return def
        }
        guard let v = Double(s), v.isFinite else { throw error(key, tree, "is '\(s)'; expected a number") }
        if let min, exclusiveMin ? v <= min : v < min {
            throw error(key, tree, "is \(s); must be \(exclusiveMin ? "greater than" : "at least") \(min)")
        }
        if let max, v > max { throw error(key, tree, "is \(s); must be at most \(max)") }
        return v
    }

    public func bool(_ key: String, default def: Bool) throws -> Bool {
        guard let (s, tree) = try scalar(key) else { return def }
        switch s.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error(key, tree, "is '\(s)'; expected true or false")
        }
    }

    public func doubles(_ key: String, default def: [Double]) throws -> [Double] {
        guard let v = value(key) else { return def }
        guard case .sequence(let items, _) = v else { throw error(key, v, "must be a list like [1, 2]") }
        return try items.map { item in
            guard case .scalar(let s, _) = item, let d = Double(s), d.isFinite else { throw error(key, item, "must list numbers") }
            return d
        }
    }

    public func ints(_ key: String, default def: [Int]) throws -> [Int] {
        try doubles(key, default: def.map(Double.init)).enumerated().map { i, d in
            guard d == d.rounded() else { throw error(key, nil, "item \(i) is \(d); expected whole numbers") }
            return Int(d)
        }
    }

    public func strings(_ key: String, default def: [String]) throws -> [String] {
        guard let v = value(key) else { return def }
        guard case .sequence(let items, _) = v else { throw error(key, v, "must be a list like [a, b]") }
        return try items.map { item in
            guard case .scalar(let s, _) = item else { throw error(key, item, "must list names") }
            return s
        }
    }

    /// A nested section; an absent one reads as empty (all defaults).
    public func section(_ key: String) throws -> RecipeSection {
        guard let v = value(key) else {
            return try RecipeSection(.mapping([], origin: RecipeOrigin(file: origin.file, line: nil)), path: fullKey(key))
        }
        return try RecipeSection(v, path: fullKey(key))
    }

    /// Rejects keys that were never read, suggesting the nearest known one.
    public func finish() throws {
        for (key, tree) in pairs where !read.contains(key) {
            // Nearest known key; equally near ones by name, so the message is the same every run.
            let hint = read.min { (editDistance($0, key), $0) < (editDistance($1, key), $1) }
                .flatMap { editDistance($0, key) <= 3 ? " (did you mean '\($0)'?)" : nil } ?? ""
            throw error(key, tree, "is not a known key\(hint)")
        }
    }
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var row = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var prev = row[0]
        row[0] = i
        for j in 1...max(b.count, 1) where !b.isEmpty {
            let cur = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
            prev = cur
        }
    }
    return row[b.count]
}
