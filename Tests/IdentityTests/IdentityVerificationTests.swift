import Identity
import XCTest

final class IdentityVerificationTests: XCTestCase {
    func testTrueAcceptRateThresholdsAtTheAllowedImpostors() throws {
        let impostor = (0..<100).map { Double($0) / 200 }  // 0 … 0.495
        let genuine = [0.9, 0.492, 0.3]
        // FAR 1e-2 allows one impostor above the threshold (0.49): 0.9 and 0.492 pass.
        XCTAssertEqual(try XCTUnwrap(IdentityVerification.trueAcceptRate(genuine: genuine, impostor: impostor, falseAcceptRate: 1e-2)), 2.0 / 3)
        // FAR 1e-3 allows none: the threshold is the top impostor (0.495).
        XCTAssertEqual(try XCTUnwrap(IdentityVerification.trueAcceptRate(genuine: genuine, impostor: impostor, falseAcceptRate: 1e-3)), 1.0 / 3)
        XCTAssertNil(IdentityVerification.trueAcceptRate(genuine: [], impostor: impostor, falseAcceptRate: 1e-2))
    }

    /// Two identities × two subjects × 3 views (front, side, back) in 2-D: identity A along x,
    /// B along y; B's back view turned towards A.
    func testPairsAndMeans() {
        let a: [Float] = [1, 0], b: [Float] = [0, 1], diagonal: [Float] = [0.6, 0.8]
        let embeddings = [a, a, a, a, a, a, b, b, diagonal, b, b, diagonal]
        let v = IdentityVerification(embeddings: embeddings, identities: ["A", "A", "B", "B"], viewsPerSubject: 3, front: 0, sides: [1], back: 2)
        XCTAssertEqual(v.frontSide.genuine.count, 8)
        XCTAssertEqual(v.frontSide.impostor.count, 8)
        XCTAssertEqual(v.all.genuine.count + v.all.impostor.count, 12 * 11 / 2)
        let m = v.metrics
        XCTAssertEqual(m["cosine_same_front_side"]!, 1, accuracy: 1e-12)
        XCTAssertEqual(m["cosine_same_front_back"]!, 0.9, accuracy: 1e-6)  // A: 1, 1; B: 0.8, 0.8
        XCTAssertEqual(m["cosine_different_front_side"]!, 0, accuracy: 1e-12)
        XCTAssertEqual(m["tar_at_far_1e-2_front_side"]!, 1)
        // Other subjects of the same identity only: A's two subjects, B's two (i ≠ j), both ways.
        XCTAssertEqual(v.frontSideOtherSubject.genuine.count, 4)
        XCTAssertEqual(v.frontSideOtherSubject.impostor.count, 8)
        XCTAssertEqual(m["cosine_same_front_side_other_subject"]!, 1, accuracy: 1e-12)
    }

    /// A subject recognised only by itself (its own views agree, its other variant's do not)
    /// passes on all genuine pairs half the time and on other-subject pairs never.
    func testOtherSubjectPairsSeparateVariantsFromIdentities() {
        let x: [Float] = [1, 0, 0, 0], y: [Float] = [0, 1, 0, 0], z: [Float] = [0, 0, 1, 0], w: [Float] = [0, 0, 0, 1]
        // Identity A: subjects with x and y; identity B: subjects with z and w; 2 views (front, side).
        let v = IdentityVerification(embeddings: [x, x, y, y, z, z, w, w], identities: ["A", "A", "B", "B"], viewsPerSubject: 2,
                                     front: 0, sides: [1], back: 1)
        let m = v.metrics
        XCTAssertEqual(m["tar_at_far_1e-2_front_side"]!, 0.5)
        XCTAssertEqual(m["tar_at_far_1e-2_front_side_other_subject"]!, 0)
        XCTAssertEqual(m["cosine_same_front_side_other_subject"]!, 0)
    }
}
