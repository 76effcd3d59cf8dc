import ArgumentParser
import Distributed
import Foundation
import Tensors
import Training

BLAS.configureAtLaunch()

struct ReliefTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relief-train",
        abstract: "Trains a Relief model from a recipe; run plainly or under `mpirun -np N`.",
        discussion: "Recipe keys and defaults: recipes/README.md. SIGINT/SIGTERM/SIGUSR1 finish the current step, write a checkpoint and exit 0; under mpirun send SIGUSR1 to mpirun (README.md, \"Stopping a run\").")

    @Argument(help: "The recipe (YAML).") var recipe: String
    @Option(help: "Continue a run: 'latest', a step number, or a checkpoint folder.") var resume: String?
    @Option(name: .customLong("set"), help: "Override a recipe key: --set optimizer.lr=3e-4 (repeatable).") var overrides: [String] = []
    @Option(help: "Run name (default: the recipe's run_name, else its file name).") var runName: String?

    func run() throws {
        let communicator = try World.communicator()
        do {
            var loaded = try Recipe.load(file: recipe, overrides: overrides)
            if let runName { loaded.runName = runName }
            let task = try TaskCatalog.make(loaded)
            let trainer = try Trainer(recipe: loaded, task: task, communicator: communicator, resume: resume)
            let outcome = try trainer.run()
            if communicator.rank == 0 {
                switch outcome {
                case .finished: print("done: \(trainer.runFolder.root.path)")
                case .stopped(let signal): print("stopped by signal \(signal); resume with --resume latest")
                }
                // Now, beside the checkpoint line, not at exit after MPI_Finalize: after a SIGTERM,
                // mpirun forwards what the ranks print only once its kill timeout has run out, and
                // a line that reaches it with the ranks' exit can be dropped (CI lost this one).
                fflush(stdout)
            }
        } catch {
            if communicator.size > 1 { communicator.abort(message: "\(error)") }
            FileHandle.standardError.write("relief-train: \(error)\n".data(using: .utf8)!)
            throw ExitCode(1)
        }
    }
}

ReliefTrain.main()
