import IsorunCgroups
import IsorunSpec
import IsorunSys

/// isorun's own failure (as opposed to the workload's): the CLI prints `message`
/// as one line on stderr and exits 125, which runc and podman also reserve for this.
public struct IsorunError: Error, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        // One line, always: the message may quote a child's report or a file's content.
        self.message = singleLine(message, collapsingBlanks: false)
    }

    public init(_ context: String, _ error: SystemError) { self.init("\(context): \(error)") }
    public init(_ error: SpecError) { self.init(error.description) }
    public init(_ error: CgroupError) { self.init(error.description) }

    public var description: String { message }

    /// The exit status for isorun's own failures.
    public static let exitStatus: Int32 = 125
}
