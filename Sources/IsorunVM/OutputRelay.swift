import IsorunCore
import IsorunSys

/// Copies one of the guest's output ports (QEMU writes it into a FIFO) to isorun's
/// own stdout or stderr.
///
/// QEMU could open /proc/self/fd/1 itself, but that is a new open file description:
/// with stdout redirected to a regular file, QEMU and isorun's caller would write at
/// different offsets and overwrite each other. Copying through isorun keeps the
/// workload's bytes exact and in order whatever stdout is (file, pipe, terminal,
/// socket), and lets isorun drain everything before it reports the exit status.
final class OutputRelay {
    let fifo: String
    let target: Int32
    private(set) var descriptor: Int32
    private var targetFailed = false

    /// Creates the FIFO and opens its read end, so QEMU's open for writing does not block.
    init(fifo: String, target: Int32) throws(IsorunError) {
        self.fifo = fifo
        self.target = target
        do {
            try Files.makeFifo(fifo)
            descriptor = try StreamCopy.openFifoForReading(fifo)
        } catch { throw IsorunError("guest output", error) }
    }

    deinit { close() }

    var isOpen: Bool { descriptor >= 0 }

    /// Copies what is waiting; closes at EOF (QEMU has exited). Returns whether
    /// there was anything to copy.
    @discardableResult
    func pump() -> Bool {
        guard descriptor >= 0 else { return false }
        let (bytes, atEnd) = Polling.drainReportingEnd(descriptor)
        if !bytes.isEmpty, !targetFailed {
            do { try StreamCopy.writeAll(target, bytes) } catch {
                // A closed stdout must not stop the run; the workload's status still matters.
                targetFailed = true
                Log.debug("guest output to fd \(target) dropped: \(error)")
            }
        }
        if atEnd { close() }
        return !bytes.isEmpty
    }

    /// Copies everything up to EOF. Called once QEMU has exited, so no writer is left
    /// and the reads end; the status is reported only after the last byte.
    func drainToEnd() {
        while descriptor >= 0, pump() {}
        close()
    }

    func close() {
        StreamCopy.close(descriptor)
        descriptor = -1
    }
}
