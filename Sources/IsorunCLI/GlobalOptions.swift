import ArgumentParser
import IsorunCore
import Logging

/// Options every command takes (runc spells them the same way).
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Directory for runtime state.")
    var root: String = LeadingGlobals.current.root ?? RuntimeRoot.defaultPath

    @Flag(name: .long, help: "Log what isorun does to stderr.")
    var debug = false

    func apply() {
        if debug || LeadingGlobals.current.debug { Log.level = .debug }
    }

    /// The lifecycle commands' containers under `--root`, after applying the log level.
    func containers() -> ContainerStore {
        apply()
        return ContainerStore(root: RuntimeRoot(path: root))
    }
}

extension Mode: ExpressibleByArgument {}
