import Foundation

/// How a run under Open MPI's `mpirun` can stop with its checkpoint. Measured with Open MPI
/// 4.1.4: on SIGTERM or SIGINT, mpirun sends the ranks SIGCONT at once, SIGTERM after
/// `odls_base_sigkill_timeout` seconds (default 1) and SIGKILL after as many again, then exits 1
/// however the ranks ended. SIGUSR1 (like SIGUSR2) it forwards to every rank at once and then
/// waits for them, exiting with their status. So a SIGTERM leaves the ranks that timeout for a
/// step and a checkpoint write; SIGUSR1 leaves them all the time they need.
struct MPIStopAdvice {
    /// `odls_base_sigkill_timeout` as the ranks see it: mpirun exports `--mca` parameters (and
    /// inherits `OMPI_MCA_…` variables) into their environment. Nil: Open MPI's default.
    let configured: Int?

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        configured = (environment["OMPI_MCA_odls_base_sigkill_timeout"] ?? environment["PRTE_MCA_odls_base_sigkill_timeout"])
            .flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    var seconds: Int { configured ?? 1 }

    var howToStop: String {
        "to stop with a checkpoint, send SIGUSR1 to mpirun (kill -USR1 <mpirun pid>; mpirun then exits 0). On SIGTERM or SIGINT, "
            + "mpirun kills the ranks \(seconds) s after passing the signal on (odls_base_sigkill_timeout"
            + (configured == nil ? ", Open MPI's default" : "") + ") and exits 1"
    }

    /// A warning when a measured stop (one step plus one checkpoint write) would not fit.
    func warning(stopSeconds: Double) -> String? {
        guard stopSeconds > Double(seconds) else { return nil }
        let suggested = max(10, Int((2 * stopSeconds).rounded(.up)))
        return String(format: "a stop needs about %.1f s (a step and a checkpoint write), more than the %d s mpirun leaves between "
            + "SIGTERM and SIGKILL: stop with SIGUSR1, or launch with mpirun --mca odls_base_sigkill_timeout %d", stopSeconds, seconds, suggested)
    }
}
