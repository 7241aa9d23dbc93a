import Glibc
import IsorunCore
import IsorunSys

/// `update` of a running VM's memory limit. Inside a VM the limit became the machine's
/// size at boot, and a host cgroup limit on QEMU would only starve the guest. What can
/// change while it runs is how much of that RAM the guest may use: every VM has a
/// virtio-balloon device, which QMP's `balloon` inflates to take the rest back (the guest's
/// MemTotal shrinks) or deflates to give it back. It cannot grow the machine.
public enum GuestMemoryBalloon {
    /// In the VM's state directory: what the boot added to the limit for the guest's
    /// kernel, init and initramfs, in MiB, so that an update sizes the guest as a boot would.
    static let overheadFile = "memory-overhead-mib"

    static func recordOverhead(_ mebibytes: Int, stateDirectory: String) throws(IsorunError) {
        do { try Files.write("\(stateDirectory)/\(overheadFile)", "\(mebibytes)\n", create: true) } catch {
            throw IsorunError("record the VM's memory overhead", error)
        }
    }

    /// Lets the guest use `limit` bytes (nil or negative: all its RAM) plus the overhead its
    /// boot added. The balloon works in the background; a guest that cannot give back what
    /// it uses keeps it, which the warning says.
    public static func setLimit(_ limit: Int64?, stateDirectory: String, field: String) throws(IsorunError) {
        let client: QmpClient
        do { client = try QmpClient(socketPath: VMLauncher.qmpSocket(stateDirectory: stateDirectory)) } catch {
            throw IsorunError("update: the VM's monitor socket", error)
        }
        let summary: String?
        do { summary = try client.execute("query-memory-size-summary") } catch { throw IsorunError("update: query-memory-size-summary", error) }
        guard let machine = summary.flatMap({ QmpClient.integer("base-memory", in: $0) }) else {
            throw IsorunError("update: QEMU did not say how much RAM the VM has (\(summary ?? "no reply"))")
        }
        var target = machine
        if let limit, limit >= 0 {
            guard let text = try? Files.readString("\(stateDirectory)/\(overheadFile)"),
                  let overhead = Int64(text.filter { $0.isNumber }) else {
                throw IsorunError("update: \(stateDirectory)/\(overheadFile) is missing: this VM was started by an isorun that could not resize it")
            }
            target = ((limit + (1 << 20) - 1) >> 20 + overhead) << 20
            guard target <= machine else {
                throw IsorunError("\(field): \(limit) bytes: this VM booted with \(machine >> 20) MiB, of which \(overhead) MiB go to its kernel, init and initramfs; update can shrink what the guest may use, not grow the machine: at most \((machine >> 20 - overhead) << 20) bytes")
            }
        }
        let reply: String?
        do { reply = try client.execute("balloon", arguments: "{\"value\":\(target)}") } catch { throw IsorunError("update: balloon", error) }
        guard let reply, !reply.contains("\"error\"") else { throw IsorunError("update: QEMU refused the balloon: \(reply ?? "no reply")") }
        // The guest hands pages over as it frees them: wait a little, then say where it stands.
        var actual: Int64 = -1
        for _ in 0..<40 {
            actual = (try? client.execute("query-balloon")).flatMap { $0.flatMap { QmpClient.integer("actual", in: $0) } } ?? -1
            if actual == target { return }
            usleep(50_000)
        }
        Log.warning("\(field): the guest still has \(actual >> 20) MiB, asked down to \(target >> 20) MiB; the balloon goes on taking memory back as the guest frees it")
    }
}
