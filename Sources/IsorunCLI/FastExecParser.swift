import IsorunCore

/// `exec` without ArgumentParser, whose reflection was half of an exec's CPU here
/// (Kubernetes runs exec probes every few seconds per container). It reads
/// `exec [OPTIONS] ID [ARGS…]` as ExecCommand declares it: options before ID, each
/// spelled out alone (a later one of a single value wins), and everything after ID
/// passed through untouched. Anything else returns nil and goes to ArgumentParser,
/// which owns help and the errors: a combined short flag (`-it`), an unknown option, a
/// value that does not parse or looks like a flag, no ID.
enum FastExecParser {
    static func parse(_ arguments: [String], globals: LeadingGlobals) -> (ExecRequest, ContainerStore)? {
        guard arguments.first == "exec" else { return nil }
        var root = globals.root ?? RuntimeRoot.defaultPath
        var debug = globals.debug
        var request = ExecRequest(id: "")
        var index = 1
        while index < arguments.count, arguments[index].hasPrefix("-") {
            if let (spelled, value, consumed) = FastRunParser.option(arguments, at: index, names: valueOptions) {
                switch longName(of: spelled) {
                case "--root": root = value
                case "--process": request.processFile = value
                case "--pid-file": request.pidFile = value
                case "--console-socket": request.consoleSocket = value
                case "--env": request.env.append(value)
                case "--cwd": request.cwd = value
                case "--user": request.user = value
                case "--cap": request.cap.append(value)
                case "--preserve-fds":
                    guard let count = Int32(value) else { return nil }
                    request.preserveFds = count
                default:
                    guard let gid = UInt32(value) else { return nil }
                    request.additionalGids.append(gid)
                }
                index += consumed
                continue
            }
            switch arguments[index] {
            case "--debug": debug = true
            case "--detach", "-d": request.detach = true
            case "--tty", "-t": request.tty = true
            case "--no-new-privs": request.noNewPrivs = true
            default: return nil
            }
            index += 1
        }
        guard index < arguments.count else { return nil }
        request.id = arguments[index]
        request.arguments = Array(arguments[(index + 1)...])
        if debug { Log.level = .debug }
        return (request, ContainerStore(root: RuntimeRoot(path: root)))
    }

    /// The options that take a value, as ExecCommand and GlobalOptions declare them.
    private static let valueOptions = [
        "--root", "--process", "-p", "--pid-file", "--console-socket", "--env", "-e", "--cwd", "--user", "-u",
        "--cap", "-c", "--preserve-fds", "--additional-gids", "-g",
    ]

    private static func longName(of option: String) -> String {
        switch option {
        case "-p": "--process"
        case "-e": "--env"
        case "-u": "--user"
        case "-c": "--cap"
        case "-g": "--additional-gids"
        default: option
        }
    }
}
