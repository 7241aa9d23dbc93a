import Logging

/// isorun's logger: stderr only, so the workload's stdout stays byte-exact.
public enum Log {
    nonisolated(unsafe) public static var logger: Logger = {
        var logger = Logger(label: "isorun") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        return logger
    }()
}
