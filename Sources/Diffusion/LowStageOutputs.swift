import Checkpoints
import Foundation
import Tensors

/// The low stage's real outputs on a dataset's subjects, for training the high stage on the j̄
/// it meets at inference (ID-TS trains its second stage on stage-1 results, not on degraded
/// ground truth): for every subject and every ring position α (0…7, azimuth 45°·α), the V views
/// the low stage generated from the subject's view at α, in [0, 1] at the low stage's size.
/// Written by `relief-infer low-stage-outputs` as one safetensors file: tensor `views`
/// [subjects, 8, V, 3, s, s] and metadata naming the dataset split, its subject ids in order, the
/// low-stage weights (path and SHA-256) and the sampling.
public struct LowStageOutputs {
    public static let ringPositions = 8
    public let views: Tensor
    public let subjects: [String]
    public let dataset: String
    public let split: String
    public let viewAzimuthsDegrees: [Double]
    public let lowStage: CheckpointReference
    public let sampling: String

    public init(views: Tensor, subjects: [String], dataset: String, split: String, viewAzimuthsDegrees: [Double],
                lowStage: CheckpointReference, sampling: String) {
        check(views.rank == 6 && views.shape[0] == subjects.count && views.shape[1] == Self.ringPositions
              && views.shape[2] == viewAzimuthsDegrees.count && views.shape[3] == 3,
              "LowStageOutputs: views \(views.shape) for \(subjects.count) subjects and \(viewAzimuthsDegrees.count) views")
        self.views = views
        self.subjects = subjects
        self.dataset = dataset
        self.split = split
        self.viewAzimuthsDegrees = viewAzimuthsDegrees
        self.lowStage = lowStage
        self.sampling = sampling
    }

    /// The low stage's image side.
    public var size: Int { views.shape[4] }

    /// The V generated views [V, 3, s, s] of subject `subject` conditioned on its ring view `position`.
    public func views(subject: Int, position: Int) -> Tensor {
        let perSubject = views.count / subjects.count, perPosition = perSubject / Self.ringPositions
        let offset = subject * perSubject + position * perPosition
        return views.reshaped([views.count]).sliced(axis: 0, range: offset..<(offset + perPosition))
            .reshaped(Array(views.shape.dropFirst(2)))
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        func json<T: Encodable>(_ value: T) -> String { String(decoding: try! encoder.encode(value), as: UTF8.self) }
        try Safetensors.write(["views": views], metadata: [
            "format": "relief-low-stage-outputs", "subjects": json(subjects), "dataset": dataset, "split": split,
            "view_azimuths_degrees": json(viewAzimuthsDegrees), "low_stage": json(lowStage), "sampling": sampling,
        ], to: URL(fileURLWithPath: path))
    }

    public static func read(_ path: String) throws -> LowStageOutputs {
        let file = try SafetensorsFile(contentsOf: URL(fileURLWithPath: path))
        let m = file.metadata
        func decoded<T: Decodable>(_ key: String, _ type: T.Type) throws -> T {
            guard let text = m[key], let value = try? JSONDecoder().decode(T.self, from: Data(text.utf8)) else {
                throw CheckpointError(path: path, "is not a low-stage outputs file (metadata '\(key)' missing or unreadable; "
                                      + "write it with relief-infer low-stage-outputs)")
            }
            return value
        }
        guard m["format"] == "relief-low-stage-outputs", let dataset = m["dataset"], let split = m["split"] else {
            throw CheckpointError(path: path, "is not a low-stage outputs file (format '\(m["format"] ?? "none")'; "
                                  + "write it with relief-infer low-stage-outputs)")
        }
        let subjects = try decoded("subjects", [String].self)
        let azimuths = try decoded("view_azimuths_degrees", [Double].self)
        let views = try file.tensor("views")
        guard views.rank == 6, views.shape[0] == subjects.count, views.shape[1] == ringPositions, views.shape[2] == azimuths.count,
              views.shape[3] == 3 else {
            throw CheckpointError(path: path, "holds views \(views.shape); expected [\(subjects.count), \(ringPositions), \(azimuths.count), 3, s, s]")
        }
        return LowStageOutputs(views: views, subjects: subjects, dataset: dataset, split: split, viewAzimuthsDegrees: azimuths,
                               lowStage: try decoded("low_stage", CheckpointReference.self), sampling: m["sampling"] ?? "")
    }
}
