/// One record of a TensorBoard event file: the `Event` message of TensorBoard's
/// `compat/proto/event.proto` with the parts Relief writes — the file version, a `Summary` of
/// scalars, PNG images or text (`summary.proto`, `tensor.proto`), and the `SessionLog` START
/// that marks where a resumed run continues. Field numbers are TensorBoard's.
public struct TensorBoardEvent: Equatable {
    public enum Content: Equatable {
        /// `file_version` (3): the first record of every file.
        case fileVersion(String)
        /// `summary` (5).
        case summary([SummaryValue])
        /// `session_log` (7) with `status` START: readers drop what they hold past this step.
        case sessionStart
    }

    /// `Summary.Value`: a tag and one of a scalar (`simple_value`, 2), an image (`image`, 4) or
    /// a text (`tensor`, 8, of `DT_STRING` with `metadata`, 9, naming the text plugin).
    public struct SummaryValue: Equatable {
        public enum Payload: Equatable {
            case scalar(Float)
            case image(PNGImage)
            case text(String)
        }
        public var tag: String
        public var payload: Payload
        public init(tag: String, _ payload: Payload) { self.tag = tag; self.payload = payload }
    }

    /// `Summary.Image`.
    public struct PNGImage: Equatable {
        public var height, width, colorspace: Int
        public var png: [UInt8]
        public init(height: Int, width: Int, colorspace: Int, png: [UInt8]) {
            (self.height, self.width, self.colorspace, self.png) = (height, width, colorspace, png)
        }
    }

    public static let fileVersion = "brain.Event:2"
    static let sessionLogStart: Int64 = 1      // SessionLog.SessionStatus.START
    static let stringDataType: Int64 = 7       // DataType.DT_STRING
    static let textPlugin = "text"

    public var wallTime: Double
    public var step: Int64
    public var content: Content

    public init(wallTime: Double, step: Int64, _ content: Content) {
        self.wallTime = wallTime
        self.step = step
        self.content = content
    }

    // MARK: - Encoding (fields in number order, proto3 defaults left out, oneof members always written)

    public var encoded: [UInt8] {
        var w = ProtobufWriter()
        if wallTime != 0 { w.double(1, wallTime) }
        if step != 0 { w.int(2, step) }
        switch content {
        case .fileVersion(let version): w.string(3, version)
        case .summary(let values): w.message(5) { s in for v in values { s.message(1) { v.encode(into: &$0) } } }
        case .sessionStart: w.message(7) { $0.int(1, Self.sessionLogStart) }
        }
        return w.bytes
    }

    // MARK: - Decoding (what this type encodes; anything else is reported, not guessed at)

    public struct Unsupported: Error, CustomStringConvertible {
        public let description: String
    }

    public init(decoding bytes: ArraySlice<UInt8>) throws {
        var r = ProtobufReader(bytes)
        var wallTime = 0.0, step: Int64 = 0, content: Content?
        while let (field, value) = try r.next() {
            switch field {
            case 1: wallTime = try Self.require(value.double, "Event.wall_time")
            case 2: step = try Self.require(value.integer, "Event.step")
            case 3: content = .fileVersion(try Self.require(value.string, "Event.file_version"))
            case 5: content = .summary(try Self.decodeSummary(try Self.require(value.data, "Event.summary")))
            case 7:
                var log = ProtobufReader(try Self.require(value.data, "Event.session_log"))
                var status: Int64 = 0
                while let (f, v) = try log.next() { if f == 1 { status = try Self.require(v.integer, "SessionLog.status") } }
                guard status == Self.sessionLogStart else { throw Unsupported(description: "SessionLog status \(status)") }
                content = .sessionStart
            default: throw Unsupported(description: "Event field \(field)")
            }
        }
        guard let content else { throw Unsupported(description: "an Event with no content") }
        self.init(wallTime: wallTime, step: step, content)
    }

    /// The step of an encoded event, reading nothing else: what pruning after a resume needs.
    public static func step(of bytes: ArraySlice<UInt8>) throws -> Int64 {
        var r = ProtobufReader(bytes)
        while let (field, value) = try r.next() { if field == 2 { return try require(value.integer, "Event.step") } }
        return 0
    }

    static func require<T>(_ value: T?, _ name: String) throws -> T {
        guard let value else { throw Unsupported(description: "\(name) has the wrong wire type") }
        return value
    }

    static func decodeSummary(_ bytes: ArraySlice<UInt8>) throws -> [SummaryValue] {
        var summary = ProtobufReader(bytes), values: [SummaryValue] = []
        while let (field, value) = try summary.next() {
            guard field == 1 else { throw Unsupported(description: "Summary field \(field)") }
            values.append(try SummaryValue(decoding: try require(value.data, "Summary.value")))
        }
        return values
    }
}

extension TensorBoardEvent.SummaryValue {
    func encode(into w: inout ProtobufWriter) {
        w.string(1, tag)
        switch payload {
        case .scalar(let v): w.float(2, v)
        case .image(let image):
            w.message(4) { i in
                if image.height != 0 { i.int(1, Int64(image.height)) }
                if image.width != 0 { i.int(2, Int64(image.width)) }
                if image.colorspace != 0 { i.int(3, Int64(image.colorspace)) }
                if !image.png.isEmpty { i.bytes(4, image.png) }
            }
        case .text(let text):
            // A rank-0 string tensor: the text plugin renders it as Markdown, not as a table.
            w.message(8) { t in
                t.int(1, TensorBoardEvent.stringDataType)
                t.message(2) { _ in }
                t.string(8, text)
            }
            w.message(9) { m in m.message(1) { $0.string(1, TensorBoardEvent.textPlugin) } }
        }
    }

    init(decoding bytes: ArraySlice<UInt8>) throws {
        typealias E = TensorBoardEvent
        var r = ProtobufReader(bytes)
        var tag = "", payload: Payload?, text: String?, plugin: String?
        while let (field, value) = try r.next() {
            switch field {
            case 1: tag = try E.require(value.string, "Summary.Value.tag")
            case 2: payload = .scalar(try E.require(value.float, "Summary.Value.simple_value"))
            case 4:
                var i = ProtobufReader(try E.require(value.data, "Summary.Value.image"))
                var image = TensorBoardEvent.PNGImage(height: 0, width: 0, colorspace: 0, png: [])
                while let (f, v) = try i.next() {
                    switch f {
                    case 1: image.height = Int(try E.require(v.integer, "Image.height"))
                    case 2: image.width = Int(try E.require(v.integer, "Image.width"))
                    case 3: image.colorspace = Int(try E.require(v.integer, "Image.colorspace"))
                    case 4: image.png = Array(try E.require(v.data, "Image.encoded_image_string"))
                    default: throw E.Unsupported(description: "Image field \(f)")
                    }
                }
                payload = .image(image)
            case 8:
                var t = ProtobufReader(try E.require(value.data, "Summary.Value.tensor"))
                var dtype: Int64 = 0
                while let (f, v) = try t.next() {
                    switch f {
                    case 1: dtype = try E.require(v.integer, "TensorProto.dtype")
                    case 2: break  // the shape: a rank-0 text is all this type writes
                    case 8: text = try E.require(v.string, "TensorProto.string_val")
                    default: throw E.Unsupported(description: "TensorProto field \(f)")
                    }
                }
                guard dtype == E.stringDataType else { throw E.Unsupported(description: "a tensor of dtype \(dtype)") }
            case 9:
                var m = ProtobufReader(try E.require(value.data, "Summary.Value.metadata"))
                while let (f, v) = try m.next() {
                    guard f == 1 else { continue }  // plugin_data; the display name and description are not used
                    var p = ProtobufReader(try E.require(v.data, "SummaryMetadata.plugin_data"))
                    while let (pf, pv) = try p.next() { if pf == 1 { plugin = try E.require(pv.string, "PluginData.plugin_name") } }
                }
            default: throw E.Unsupported(description: "Summary.Value field \(field)")
            }
        }
        if let text {
            guard plugin == E.textPlugin else { throw E.Unsupported(description: "a string tensor for plugin \(plugin ?? "none")") }
            payload = .text(text)
        }
        guard let payload else { throw E.Unsupported(description: "Summary.Value '\(tag)' holds no value") }
        self.init(tag: tag, payload)
    }
}
