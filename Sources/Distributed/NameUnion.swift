extension Communicator {
    /// The sorted union of every rank's names: how ranks agree on which named values (a task's
    /// metrics) to reduce when a rank without samples this step has none.
    public func union(of names: [String]) throws -> [String] {
        let mine = Array(Set(names).sorted().joined(separator: "\n").utf8)
        guard size > 1 else { return names.isEmpty ? [] : Set(names).sorted() }
        let lengths = try allgather(Int64(mine.count))
        let width = Int(lengths.max() ?? 0)
        guard width > 0 else { return [] }
        let padded = mine + [UInt8](repeating: 0, count: width - mine.count)
        let gathered = UnsafeMutableRawBufferPointer.allocate(byteCount: width * size, alignment: 1)
        defer { gathered.deallocate() }
        try padded.withUnsafeBytes { try allgather($0, into: gathered) }
        var all = Set<String>()
        for r in 0..<size where lengths[r] > 0 {
            let text = String(decoding: gathered[r * width ..< r * width + Int(lengths[r])], as: UTF8.self)
            all.formUnion(text.split(separator: "\n").map(String.init))
        }
        return all.sorted()
    }
}
