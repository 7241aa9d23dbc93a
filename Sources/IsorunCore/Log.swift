import Logging

/// isorun's log: stderr only, so the workload's stdout stays byte-exact.
///
/// Messages are checked against `level` before swift-log's `Logger` is built: building
/// it (its handler and metadata-provider machinery) costs about 0.1 ms of start-up, which
/// every isorun command would pay although almost every run logs nothing.
public enum Log {
    /// The lowest level that is written; `--debug` lowers it. Notices are what a person at a
    /// terminal is told (VM mode's accelerator); nothing logs them otherwise.
    nonisolated(unsafe) public static var level: Logger.Level = .notice

    nonisolated(unsafe) private static var logger: Logger = {
        var logger = Logger(label: "isorun") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .trace  // `level` decides
        return logger
    }()

    public static func debug(_ message: @autoclosure () -> String) { write(.debug, message) }
    public static func info(_ message: @autoclosure () -> String) { write(.info, message) }
    public static func notice(_ message: @autoclosure () -> String) { write(.notice, message) }
    public static func warning(_ message: @autoclosure () -> String) { write(.warning, message) }
    public static func error(_ message: @autoclosure () -> String) { write(.error, message) }

    private static func write(_ messageLevel: Logger.Level, _ message: () -> String) {
        guard messageLevel >= level else { return }
        logger.log(level: messageLevel, "\(message())")
    }
}
