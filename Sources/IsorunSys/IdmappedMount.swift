import CIsorunShim
import Glibc

/// The parent's half of an idmapped bind mount (the C shim's `isorun_idmapped_tree`).
public enum IdmappedMount {
    /// A detached copy of the mount at `source` whose owners read through `map`; the
    /// caller closes the descriptor once the child has it.
    public static func detachedTree(source: String, recursiveBind: Bool,
                                    map: SpawnPlan.MountStep.IDMap) throws(SystemError) -> Int32 {
        var failed: UnsafePointer<CChar>?
        let fd = isorun_idmapped_tree(source, map.uidMap, map.gidMap, recursiveBind ? 1 : 0, map.recursive ? 1 : 0, &failed)
        guard fd >= 0 else { throw SystemError(failed.map { String(cString: $0) } ?? "idmapped mount", source) }
        return fd
    }

    /// Prepares every idmapped bind of `mounts` and returns the descriptors to close after
    /// the spawn; on a failure the ones already made are closed.
    public static func prepare(_ mounts: inout [SpawnPlan.MountStep]) throws(SystemError) -> [Int32] {
        var made: [Int32] = []
        for index in mounts.indices {
            guard let map = mounts[index].idmap, let source = mounts[index].source else { continue }
            do {
                let fd = try detachedTree(source: source, recursiveBind: mounts[index].flags & UInt(MS_REC) != 0, map: map)
                mounts[index].sourceDescriptor = fd
                made.append(fd)
            } catch {
                made.forEach { close($0) }
                throw error
            }
        }
        return made
    }
}
