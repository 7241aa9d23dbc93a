import CIsorunShim
import Glibc

/// A connected UNIX stream socket (QEMU's QMP monitor), with deadlines on every read.
public final class UnixSocket {
    public let path: String
    private let fd: Int32

    public init(connectingTo path: String) throws(SystemError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw SystemError("connect", path, errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket", path) }
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                retryingOnInterrupt { connect(fd, generic, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
        guard connected == 0 else {
            let error = SystemError("connect", path)
            close(fd)
            throw error
        }
        self.path = path
        self.fd = fd
    }

    deinit { close(fd) }

    /// Passes an open descriptor to the peer (SCM_RIGHTS), with `name` as the message.
    public func send(descriptor: Int32, name: String) throws(SystemError) {
        let rc = isorun_send_fd(fd, descriptor, name)
        guard rc == 0 else { throw SystemError("sendmsg", path, errno: -rc) }
    }

    public func send(_ text: String) throws(SystemError) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { raw in
                retryingOnInterrupt { Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL)) }
            }
            guard written > 0 else { throw SystemError("send", path) }
            bytes = bytes.dropFirst(written)
        }
    }

    /// Reads what arrives within `timeoutMilliseconds`; empty at EOF or timeout.
    public func receive(timeoutMilliseconds: Int32) throws(SystemError) -> [UInt8] {
        guard try !Polling.waitReadable([fd], timeoutMilliseconds: timeoutMilliseconds).isEmpty else { return [] }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { raw in retryingOnInterrupt { recv(fd, raw.baseAddress, raw.count, 0) } }
        guard count >= 0 else { throw SystemError("recv", path) }
        return Array(buffer[0..<count])
    }
}
