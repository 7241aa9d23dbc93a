import Glibc
import IsorunGuestProtocol
import IsorunSys
import Testing
@testable import IsorunVM

struct ControlChannelTests {
    /// `run` queues the process before the guest boots, but only what the FIFO holds without
    /// waiting: a write that waited for a guest that never boots would hang isorun.
    @Test func queuesForTheGuestOnlyWhatFitsUnread() throws {
        let directory = try scratchDirectory("control")
        defer { try? Files.removeTree(directory) }
        let channel = try ControlChannel(base: "\(directory)/control")
        let guestEnd = try StreamCopy.openFifoReadWrite("\(directory)/control.in")
        defer { close(guestEnd) }

        let small: [GuestMessage] = [.argument("true"), .start]
        #expect(try channel.sendIfItFitsUnread(small))
        #expect(Polling.drain(guestEnd) == Array("arg true\nstart\n".utf8))

        let large: [GuestMessage] = [.environment(String(repeating: "x", count: ControlChannel.unreadCapacity)), .start]
        #expect(try !channel.sendIfItFitsUnread(large))
        #expect(Polling.drain(guestEnd).isEmpty)
    }
}
