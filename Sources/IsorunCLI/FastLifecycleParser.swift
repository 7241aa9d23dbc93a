import IsorunCore

/// containerd's hot path (`create`, `start`, `state`, `kill`, `delete`, run once per
/// container each) without ArgumentParser, whose reflection costs ~2 ms of every
/// process start here. Anything else — help, an unknown or misplaced flag, a missing or
/// extra argument — returns nil and goes to ArgumentParser, which owns the errors.
enum FastLifecycleParser {
    /// An array, not a `Set`: see `MountOptions` on what a hashed table costs at start-up.
    static let commands = ["create", "start", "state", "kill", "delete"]

    static func parse(_ arguments: [String], globals: LeadingGlobals) -> (() throws(IsorunError) -> Void)? {
        guard let command = arguments.first, commands.contains(command) else { return nil }
        var root = globals.root ?? RuntimeRoot.defaultPath
        var debug = globals.debug
        var bundle = ".", pidFile: String?, consoleSocket: String?, force = false, all = false
        var setup = ProcessSetup()
        var positional: [String] = []
        var index = 1
        let valueOptions = command == "create"
            ? ["--root", "--bundle", "-b", "--pid-file", "--console-socket", "--preserve-fds"] : ["--root"]
        while index < arguments.count {
            if let (name, value, consumed) = FastRunParser.option(arguments, at: index, names: valueOptions) {
                switch name {
                case "--root": root = value
                case "--pid-file": pidFile = value
                case "--console-socket": consoleSocket = value
                case "--preserve-fds":
                    guard let count = Int32(value) else { return nil }
                    setup.preservedDescriptors = count
                default: bundle = value
                }
                index += consumed
                continue
            }
            switch (command, arguments[index]) {
            case (_, "--debug"): debug = true
            case ("create", "--no-pivot"): setup.noPivotRoot = true
            case ("create", "--no-new-keyring"): setup.newSessionKeyring = false
            case ("delete", "--force"), ("delete", "-f"): force = true
            case ("kill", "--all"), ("kill", "-a"): all = true
            case (_, let argument):
                // Anything flag-like (a signal such as -9 too) is ArgumentParser's to judge.
                guard !argument.hasPrefix("-") else { return nil }
                positional.append(argument)
            }
            index += 1
        }
        let expected = command == "kill" ? 1...2 : 1...1
        guard expected.contains(positional.count) else { return nil }
        let id = positional[0]
        let store = ContainerStore(root: RuntimeRoot(path: root))
        if debug { Log.level = .debug }
        switch command {
        case "create":
            return { () throws(IsorunError) in
                try CreateCommand.perform(store: store, bundle: bundle, pidFile: pidFile, consoleSocket: consoleSocket, id: id,
                                          setup: setup, debug: debug)
            }
        case "start": return { () throws(IsorunError) in try StartCommand.perform(store: store, id: id) }
        case "state": return { () throws(IsorunError) in try StateCommand.perform(store: store, id: id) }
        case "kill":
            let signal = positional.count > 1 ? positional[1] : "TERM"
            return { () throws(IsorunError) in try KillCommand.perform(store: store, all: all, id: id, signal: signal) }
        default: return { () throws(IsorunError) in try DeleteCommand.perform(store: store, force: force, id: id) }
        }
    }
}
