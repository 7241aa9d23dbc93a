import Glibc
import IsorunSys

/// An OCI bundle on disk: its directory, its decoded and validated `config.json`,
/// and where its root filesystem is. Loading checks everything that can be checked
/// before a container exists, so launchers start from a config they can trust.
public struct Bundle: Sendable, Equatable {
    /// Absolute, lexically normalised path of the bundle directory.
    public let directory: String
    /// The decoded and validated `config.json`.
    public let config: RuntimeConfig
    /// Absolute path of the root filesystem: `root.path`, resolved against `directory`
    /// when relative. When `root` is absent (allowed only with `requireRootfs: false`)
    /// this is the conventional `<directory>/rootfs`; check `config.root` to tell.
    public let rootfsPath: String

    /// Where `config.json` is, for error messages of later layers.
    public var configPath: String { Self.configPath(in: directory) }

    /// Reads, decodes and validates `<directory>/config.json`.
    ///
    /// - Parameter requireRootfs: when true (the default), `root` must be present and
    ///   name an existing directory. Bare mode runs on the host filesystem and VM mode
    ///   may boot a disk image, so they pass false and still get a validated config.
    public static func load(directory: String, requireRootfs: Bool = true) throws(SpecError) -> Bundle {
        let directory = absolutePath(directory, relativeTo: Files.currentDirectory())
        switch fileType(at: directory) {
        case .success(.directory):
            break
        case .success:
            throw SpecError(file: directory, jsonPath: nil, message: "bundle path is not a directory")
        case .failure(let reason):
            throw SpecError(file: directory, jsonPath: nil, message: "cannot open bundle directory: \(reason)")
        }

        let configPath = Self.configPath(in: directory)
        let bytes: [UInt8]
        do {
            bytes = try Files.read(configPath)
        } catch {
            throw SpecError(file: configPath, jsonPath: nil, message: "cannot read config.json: \(readableReason(errno: error.errno))")
        }
        let config = try RuntimeConfig.decode(bytes, file: configPath)
        try config.validate(file: configPath)

        let rootfsPath: String
        if let root = config.root, !root.path.isEmpty {
            rootfsPath = absolutePath(root.path, relativeTo: directory)
            if requireRootfs {
                try checkRootfs(rootfsPath, configPath: configPath)
            }
        } else if requireRootfs {
            let path = config.root == nil ? "root" : "root.path"
            throw SpecError(file: configPath, jsonPath: path, message: "no root filesystem given; set root.path to the rootfs directory")
        } else {
            rootfsPath = directory + "/rootfs"
        }
        return Bundle(directory: directory, config: config, rootfsPath: rootfsPath)
    }

    private static func configPath(in directory: String) -> String {
        directory == "/" ? "/config.json" : directory + "/config.json"
    }

    private static func checkRootfs(_ path: String, configPath: String) throws(SpecError) {
        switch fileType(at: path) {
        case .success(.directory):
            return
        case .success:
            throw SpecError(file: configPath, jsonPath: "root.path", message: "rootfs \(quoted(path, limit: 200)) is not a directory")
        case .failure(.doesNotExist):
            throw SpecError(file: configPath, jsonPath: "root.path", message: "rootfs directory \(quoted(path, limit: 200)) does not exist")
        case .failure(let reason):
            throw SpecError(file: configPath, jsonPath: "root.path", message: "cannot open rootfs \(quoted(path, limit: 200)): \(reason)")
        }
    }
}

// MARK: - Filesystem helpers

/// Why a path could not be used, in words rather than an error type, for messages.
enum PathProblem: Error, Equatable, CustomStringConvertible {
    case doesNotExist
    case other(String)

    var description: String {
        switch self {
        case .doesNotExist: return "no such file or directory"
        case .other(let reason): return reason
        }
    }
}

/// The file type at `path` (following symlinks), or why it could not be determined.
private func fileType(at path: String) -> Result<Files.Kind, PathProblem> {
    Files.kind(of: path).mapError { error in
        error.isNoSuchFile ? .doesNotExist : .other(Errno.describe(error.errno))
    }
}

/// A lower-case phrase for why a file could not be read, to end a one-line message.
func readableReason(errno code: Int32) -> String {
    switch code {
    case ENOENT: return "no such file or directory"
    case EACCES: return "permission denied"
    case EPERM: return "operation not permitted"
    case EISDIR: return "is a directory"
    case ENOTDIR: return "a component of the path is not a directory"
    case ELOOP: return "too many levels of symbolic links"
    case ENAMETOOLONG: return "file name too long"
    case EIO: return "input/output error"
    case EMFILE, ENFILE: return "too many open files"
    case ENOMEM: return "out of memory"
    default: return Errno.describe(code)
    }
}

/// Makes `path` absolute against `base` and removes `.`, `..` and repeated slashes
/// without touching the filesystem, so error messages and mounts see one stable
/// spelling. `..` is resolved lexically, which differs from the kernel only when a
/// component is a symlink; bundles do not rely on that.
func absolutePath(_ path: String, relativeTo base: String) -> String {
    // Byte by byte: every run pays this, and splitting into substrings and joining them
    // costs the Swift runtime more (first-use generic metadata) than the work itself.
    let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
    let bytes = Array((path.hasPrefix("/") ? path : base + "/" + path).utf8)
    var result: [UInt8] = []
    var componentStarts: [Int] = []
    var index = 0
    while index < bytes.count {
        while index < bytes.count, bytes[index] == slash { index += 1 }
        let start = index
        while index < bytes.count, bytes[index] != slash { index += 1 }
        switch index - start {
        case 0: continue
        case 1 where bytes[start] == dot: continue
        case 2 where bytes[start] == dot && bytes[start + 1] == dot:
            if let last = componentStarts.popLast() { result.removeLast(result.count - last) }
            continue
        default: break
        }
        componentStarts.append(result.count)
        result.append(slash)
        for byte in start..<index { result.append(bytes[byte]) }
    }
    return result.isEmpty ? "/" : String(decoding: result, as: UTF8.self)
}
