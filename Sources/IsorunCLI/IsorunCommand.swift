import ArgumentParser
import Glibc
import IsorunCore
import IsorunSpec
import IsorunSys

/// The `isorun` command: `isorun [run] [--mode M] BUNDLE` is the main use.
public struct IsorunCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "isorun",
        abstract: "One OCI bundle, three ways to run it: bare process, namespace + cgroup sandbox, micro-VM.",
        version: "0.1.0",
        subcommands: [RunCommand.self, BenchCommand.self, CreateCommand.self, StartCommand.self, StateCommand.self,
                      KillCommand.self, DeleteCommand.self, ListCommand.self, PsCommand.self, PauseCommand.self,
                      ResumeCommand.self, FeaturesCommand.self, SpecCommand.self, ExecCommand.self,
                      UpdateCommand.self, EventsCommand.self, VMMonitorCommand.self, VMExecRelayCommand.self],
        defaultSubcommand: RunCommand.self
    )

    public init() {}

    /// argv without the program name, read directly: `CommandLine.arguments` builds its
    /// array through generic code whose first use costs ~0.1 ms of runtime set-up, and
    /// every isorun command is a new process.
    public static func commandLineArguments() -> [String] {
        var arguments: [String] = []
        arguments.reserveCapacity(Int(CommandLine.argc))
        for index in 1..<Int(max(CommandLine.argc, 1)) {
            if let argument = CommandLine.unsafeArgv[index] { arguments.append(String(cString: argument)) }
        }
        return arguments
    }

    /// Parses and runs; isorun's own failures end as one line on stderr and status 125,
    /// the workload's status passes through unchanged.
    public static func runAndExit(_ arguments: [String] = commandLineArguments()) -> Never {
        HostProcess.restoreEnvironmentAfterRuntimeStart()
        guard let (globals, arguments) = LeadingGlobals.split(arguments) else { fail("a global flag is missing its value") }
        LeadingGlobals.current = globals
        if !globals.systemdCgroup, let options = FastRunParser.parse(arguments, globals: globals) {
            do { Glibc.exit(try options.execute()) } catch { fail(error.message) }
        }
        if let lifecycle = FastLifecycleParser.parse(arguments, globals: globals) {
            do { try lifecycle() } catch { fail(error.message) }
            Glibc.exit(0)
        }
        if let (exec, store) = FastExecParser.parse(arguments, globals: globals) {
            do { Glibc.exit(try exec.perform(store: store) ?? 0) } catch { fail(error.message) }
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            Glibc.exit(0)
        } catch let error as IsorunError {
            fail(error.message)
        } catch let code as ExitCode {
            Glibc.exit(code.rawValue)
        } catch {
            let status = exitCode(for: error)
            if status == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            fail(message(for: error))
        }
    }

    private static func fail(_ message: String) -> Never {
        report(message)
        Glibc.exit(IsorunError.exitStatus)
    }

    /// One failure as isorun says it: a single line on stderr, and in the `--log` file.
    static func report(_ message: String) {
        let line = singleLine(message, collapsingBlanks: false)
        LeadingGlobals.current.logFailure(line)
        let bytes = Array("isorun: \(line)\n".utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
