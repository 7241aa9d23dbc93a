import ArgumentParser
import Glibc
import IsorunCore
import IsorunSpec
import IsorunSys
import IsorunVM

/// The hidden command `exec --detach` starts for a VM container: the process's stand-in
/// on the host (see `VMExecClient`), in a session of its own.
struct VMExecRelayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vm-exec", abstract: "Relay one process in a VM container.",
                                                    shouldDisplay: false)

    @Option(name: .customLong("container-dir"), help: "The container's state directory.") var containerDirectory: String
    @Option(help: "An argument of the process (in order).") var arg: [String] = []
    @Option(help: "An environment entry of the process.") var env: [String] = []
    @Option(help: "Working directory in the container.") var cwd = "/"
    @Option(help: "User id.") var uid: UInt32 = 0
    @Option(help: "Group id.") var gid: UInt32 = 0
    @Flag(help: "stdin is the replica of the process's terminal.") var tty = false

    func run() throws {
        var process = IsorunSpec.Process()
        process.args = arg
        process.env = env
        process.cwd = cwd
        process.user = User(uid: uid, gid: gid)
        process.terminal = tty
        throw ExitCode(try VMExecClient.run(process, containerDirectory: containerDirectory, terminal: tty ? 0 : nil))
    }

    /// Starts the relay with isorun's stdio, or with `terminal` as its controlling terminal
    /// and stdio; its pid.
    static func start(_ process: IsorunSpec.Process, containerDirectory: String, terminal: Int32?) throws(IsorunError) -> pid_t {
        let executable: String
        do { executable = try FileTree.linkTarget("/proc/self/exe") } catch { throw IsorunError("exec", error) }
        var arguments = [executable, "vm-exec", "--container-dir=\(containerDirectory)", "--cwd=\(process.cwd)",
                         "--uid=\(process.user?.uid ?? 0)", "--gid=\(process.user?.gid ?? 0)"]
        arguments += (process.args ?? []).map { "--arg=\($0)" } + (process.env ?? []).map { "--env=\($0)" }
        if terminal != nil { arguments.append("--tty") }
        var plan = SpawnPlan(arguments: arguments, environment: HostProcess.environment())
        plan.parentDeathSignal = 0
        plan.newSession = true
        plan.terminalDescriptor = terminal
        do {
            let child = try Spawner.start(plan)
            try child.release()
            return child.pid
        } catch let error as SystemError {
            throw IsorunError("exec: start the relay", error)
        } catch {
            throw IsorunError("exec: start the relay: \(error)")
        }
    }
}
