#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
@testable import IsorunSpec
import Testing

/// A config in the shape `runc spec` produces, plus the sections isorun reads that
/// `runc spec` leaves out (resources, seccomp, user namespace, hooks, vm) and a few
/// keys isorun does not model, which must be ignored.
let fullConfigJSON = #"""
{
  "ociVersion": "1.2.0",
  "process": {
    "terminal": true,
    "consoleSize": { "height": 24, "width": 80 },
    "user": { "uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [5, 6] },
    "args": ["sh", "-c", "echo hello"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    "cwd": "/home/app",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
    "noNewPrivileges": true,
    "oomScoreAdj": -500,
    "ioPriority": { "class": "IOPRIO_CLASS_IDLE" }
  },
  "root": { "path": "rootfs", "readonly": true },
  "hostname": "isorun",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
      "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
      "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
    { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
      "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"] },
    { "destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"],
      "uidMappings": [{ "containerID": 0, "hostID": 100000, "size": 65536 }] }
  ],
  "hooks": {
    "createRuntime": [{ "path": "/usr/bin/netns-setup", "args": ["netns-setup", "--up"], "timeout": 5 }],
    "poststop": [{ "path": "/usr/bin/cleanup", "env": ["DEBUG=1"] }]
  },
  "annotations": { "org.opencontainers.image.title": "demo" },
  "linux": {
    "uidMappings": [{ "containerID": 0, "hostID": 100000, "size": 65536 }],
    "gidMappings": [{ "containerID": 0, "hostID": 100000, "size": 65536 }],
    "sysctl": { "net.ipv4.ip_forward": "1" },
    "resources": {
      "devices": [
        { "allow": false, "access": "rwm" },
        { "allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm" }
      ],
      "memory": { "limit": 536870912, "swap": 1073741824, "swappiness": 0 },
      "cpu": { "shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1", "idle": 0 },
      "pids": { "limit": 128 },
      "blockIO": { "weight": 500 },
      "unified": { "memory.high": "400M" }
    },
    "namespaces": [
      { "type": "pid" }, { "type": "network", "path": "/var/run/netns/demo" }, { "type": "ipc" },
      { "type": "uts" }, { "type": "mount" }, { "type": "cgroup" }, { "type": "user" }
    ],
    "devices": [{ "type": "c", "path": "/dev/fuse", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0 }],
    "rootfsPropagation": "rprivate",
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO",
      "defaultErrnoRet": 1,
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
      "syscalls": [
        { "names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW" },
        { "names": ["personality"], "action": "SCMP_ACT_ALLOW",
          "args": [{ "index": 0, "value": 0, "op": "SCMP_CMP_EQ" }] }
      ]
    },
    "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
    "readonlyPaths": ["/proc/bus", "/proc/sys"],
    "personality": { "domain": "LINUX" }
  },
  "vm": {
    "kernel": { "path": "/var/lib/isorun/vmlinuz", "parameters": ["console=hvc0"], "initrd": "/var/lib/isorun/initrd" },
    "image": { "path": "/var/lib/isorun/root.img", "format": "raw" },
    "hwConfig": { "vcpus": 2, "memory": 268435456 }
  }
}
"""#

/// The smallest config that passes validation; tests change one field at a time.
func minimalConfig() -> RuntimeConfig {
    RuntimeConfig(
        process: Process(args: ["/bin/true"], cwd: "/"),
        root: Root(path: "rootfs")
    )
}

/// Decodes `json` the way `Bundle.load` does, naming the file `config.json`.
func decode(_ json: String) throws(SpecError) -> RuntimeConfig {
    try RuntimeConfig.decode(Array(json.utf8), file: "config.json")
}

/// The `SpecError` that `body` throws, or nil if it succeeds. Any other error is a
/// test failure, since the spec layer promises to throw only `SpecError`.
func specError(_ body: () throws -> Void) -> SpecError? {
    do {
        try body()
        return nil
    } catch let error as SpecError {
        return error
    } catch {
        Issue.record("expected a SpecError, got \(error)")
        return nil
    }
}

/// A fresh directory under the system temporary directory, removed after `body`.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let path = FileManager.default.temporaryDirectory.path + "/isorun-spec-tests-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// Writes `text` to `path`, creating nothing else.
func write(_ text: String, to path: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}
