import CIsorunShim
import Glibc

/// A connected UNIX stream socket (QEMU's QMP monitor), with deadlines on every read.
public final class UnixSocket {
    public let path: String
    private let fd: Int32

    /// For polling and for `Polling.drainReportingEnd` once non-blocking.
    public var descriptor: Int32 { fd }

    public init(connectingTo path: String) throws(SystemError) {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket", path) }
        let connected = UnixAddress.with(path) { address in
            retryingOnInterrupt { connect(fd, address, socklen_t(MemoryLayout<sockaddr_un>.size)) }
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

/// A listening UNIX stream socket, non-blocking; the socket file goes with it.
public final class UnixListener {
    public let path: String
    public let descriptor: Int32

    public init(listeningAt path: String) throws(SystemError) {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket", path) }
        unlink(path)
        let bound = UnixAddress.with(path) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        guard bound == 0, listen(fd, 8) == 0 else {
            let error = SystemError(bound == 0 ? "listen" : "bind", path)
            close(fd)
            throw error
        }
        self.path = path
        self.descriptor = fd
    }

    deinit {
        close(descriptor)
        unlink(path)
    }

    /// A waiting connection (non-blocking, close-on-exec), or nil when none waits.
    public func accept() -> Int32? {
        let fd = retryingOnInterrupt { Glibc.accept(descriptor, nil, nil) }
        guard fd >= 0 else { return nil }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        StreamCopy.setNonBlocking(fd)
        return fd
    }
}

extension UnixSocket {
    /// Sends all of `bytes` on a connected socket, waiting while a non-blocking one is
    /// full; a peer that has gone is an error (EPIPE), never a SIGPIPE.
    public static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws(SystemError) {
        try StreamCopy.transferAll(fd, bytes, call: "send") { Glibc.send($0, $1, $2, Int32(MSG_NOSIGNAL)) }
    }
}

/// A socket address for `path`. A socket path may hold only 107 bytes; a longer one (a
/// 64-character container id under containerd's state directory comes close) is reached
/// through its directory's descriptor, /proc/self/fd/N/NAME.
enum UnixAddress {
    /// `body`'s result, or -1 with errno ENAMETOOLONG (or open's errno) when no address fits.
    static func with(_ path: String, _ body: (UnsafePointer<sockaddr>) -> Int32) -> Int32 {
        var directory: Int32 = -1
        defer { if directory >= 0 { close(directory) } }
        var usable = path
        if path.utf8.count >= MemoryLayout.size(ofValue: sockaddr_un().sun_path), let slash = path.lastIndex(of: "/") {
            directory = open(String(path[..<slash]), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard directory >= 0 else { return -1 }
            usable = "/proc/self/fd/\(directory)/\(path[path.index(after: slash)...])"
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(usable.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            errno = ENAMETOOLONG
            return -1
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) { pointer in pointer.withMemoryRebound(to: sockaddr.self, capacity: 1, body) }
    }
}
