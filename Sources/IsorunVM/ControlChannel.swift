import IsorunCore
import IsorunGuestProtocol
import IsorunSys

/// isorun's end of the guest's control port: a pair of FIFOs that QEMU's `pipe`
/// chardev opens as `<base>.in` (to the guest) and `<base>.out` (from it).
///
/// isorun opens both ends read-write, so neither open blocks before QEMU exists and
/// neither side sees EOF when the other restarts; what the guest said before QEMU
/// exited stays readable afterwards (its `exit N` is read after QEMU has gone).
final class ControlChannel {
    let base: String
    private let toGuest: Int32
    private let fromGuest: Int32
    private var lines = LineBuffer()
    private var pending: [GuestMessage] = []

    init(base: String) throws(IsorunError) {
        self.base = base
        do {
            try Files.makeFifo("\(base).in")
            try Files.makeFifo("\(base).out")
        } catch { throw IsorunError("control channel", error) }
        do {
            toGuest = try StreamCopy.openFifoReadWrite("\(base).in")
        } catch { throw IsorunError("control channel", error) }
        do {
            fromGuest = try StreamCopy.openFifoReadWrite("\(base).out")
        } catch {
            StreamCopy.close(toGuest)
            throw IsorunError("control channel", error)
        }
    }

    deinit {
        StreamCopy.close(toGuest)
        StreamCopy.close(fromGuest)
    }

    /// The descriptor that becomes readable when the guest says something.
    var readableDescriptor: Int32 { fromGuest }

    func send(_ messages: [GuestMessage]) throws(IsorunError) {
        try write(Self.encode(messages))
    }

    private static func encode(_ messages: [GuestMessage]) -> [UInt8] {
        Array(messages.map(\.line).joined().utf8)
    }

    private func write(_ bytes: [UInt8]) throws(IsorunError) {
        // Waits when the guest has not drained the FIFO yet (a large environment).
        do { try StreamCopy.writeAll(toGuest, bytes) } catch {
            throw IsorunError("write to the guest's control port", error)
        }
    }

    /// What a write may queue before anyone reads: half a FIFO's 64 KiB default, so
    /// that it never waits.
    static let unreadCapacity = 32 * 1024

    /// Queues `messages` for a guest that has not opened its port yet, if they fit
    /// without waiting (a guest that never boots must not hang isorun). False: nothing sent.
    func sendIfItFitsUnread(_ messages: [GuestMessage]) throws(IsorunError) -> Bool {
        let bytes = Self.encode(messages)
        guard bytes.count <= Self.unreadCapacity else { return false }
        try write(bytes)
        return true
    }

    /// Messages that have arrived so far, without waiting.
    func receiveAvailable() -> [GuestMessage] {
        let bytes = Polling.drain(fromGuest)
        pending += lines.append(bytes).compactMap { GuestMessage(line: $0) }
        let messages = pending
        pending = []
        return messages
    }

    /// The `exec` messages that have arrived, without waiting; the others stay for
    /// `receiveAvailable` (the guest's `exit` is read after QEMU has gone).
    func takeExecMessages() -> [GuestMessage] {
        pending += lines.append(Polling.drain(fromGuest)).compactMap { GuestMessage(line: $0) }
        let exec = pending.filter { $0.execID != nil }
        pending.removeAll { $0.execID != nil }
        return exec
    }

    enum WaitOutcome {
        case message(GuestMessage)
        case watchedDescriptorReady
        case relayReady(Int32)
        case timedOut
    }

    /// Waits for the next message, for `watched` (e.g. QEMU's pidfd) or one of
    /// `relayed` (guest output) to become readable, or for the deadline.
    func next(watching watched: Int32, relaying relayed: [Int32], deadline: UInt64) throws(IsorunError) -> WaitOutcome {
        while true {
            if !pending.isEmpty { return .message(pending.removeFirst()) }
            guard let timeout = MonotonicClock.millisecondsLeft(until: deadline) else { return .timedOut }
            let ready: [Int32]
            do { ready = try Polling.waitReadable([fromGuest, watched] + relayed, timeoutMilliseconds: timeout) } catch {
                throw IsorunError("wait for the guest", error)
            }
            if ready.contains(fromGuest) {
                pending += lines.append(Polling.drain(fromGuest)).compactMap { GuestMessage(line: $0) }
                continue
            }
            if let descriptor = relayed.first(where: ready.contains) { return .relayReady(descriptor) }
            if ready.contains(watched) { return .watchedDescriptorReady }
        }
    }
}
