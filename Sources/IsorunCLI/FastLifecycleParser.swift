import IsorunCore

/// containerd's hot path (`create`, `start`, `state`, `kill`, `delete`, run once per
/// container each) without ArgumentParser, whose reflection costs ~2 ms of every
/// process start here. Anything else — help, an unknown or misplaced flag, a missing or
/// extra argument — returns nil and goes to ArgumentParser, which owns the errors.
enum FastLifecycleParser {
    static let commands: Set = ["create", "start", "state", "kill", "delete"]

    static func parse(_ arguments: [String], globals: LeadingGlobals) -> (() throws(IsorunError) -> Void)? {
        guard let command = arguments.first, commands.contains(command) else { return nil }
        var root = globals.root ?? "/run/isorun"
        var debug = globals.debug
        var bundle = ".", pidFile: String?, consoleSocket: String?, force = false, all = false
        var positional: [String] = []
        var index = 1
        while index < arguments.count {
            var name = arguments[index]
            var inlineValue: String?
            if name.hasPrefix("--"), let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            func value() -> String? {
                if let inlineValue { return inlineValue }
                guard index + 1 < arguments.count else { return nil }
                index += 1
                return arguments[index]
            }
            switch (command, name) {
            case (_, "--root"): guard let given = value() else { return nil }; root = given
            case (_, "--debug"): guard inlineValue == nil else { return nil }; debug = true
            case ("create", "--bundle"), ("create", "-b"): guard let given = value() else { return nil }; bundle = given
            case ("create", "--pid-file"): guard let given = value() else { return nil }; pidFile = given
            case ("create", "--console-socket"): guard let given = value() else { return nil }; consoleSocket = given
            case ("delete", "--force"), ("delete", "-f"): guard inlineValue == nil else { return nil }; force = true
            case ("kill", "--all"), ("kill", "-a"): guard inlineValue == nil else { return nil }; all = true
            default:
                // A signal number such as -9 is not a flag kill accepts either.
                guard !name.hasPrefix("-") else { return nil }
                positional.append(name)
            }
            index += 1
        }
        let expected = command == "kill" ? 1...2 : 1...1
        guard expected.contains(positional.count) else { return nil }
        let id = positional[0]
        let store = ContainerStore(root: RuntimeRoot(path: root))
        if debug { Log.logger.logLevel = .debug }
        switch command {
        case "create":
            return { () throws(IsorunError) in
                try CreateCommand.perform(store: store, bundle: bundle, pidFile: pidFile, consoleSocket: consoleSocket, id: id, debug: debug)
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
