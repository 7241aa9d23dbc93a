import IsorunSys

/// Where making a cgroup goes: carried out at once, or written down as a `CgroupJob` for
/// the network namespace's helper to carry out while the container's child sets up.
protocol CgroupWriter {
    /// `directory` and any missing ancestors below `hierarchy`.
    func makeDirectories(_ directory: String, hierarchy: String) throws(CgroupError)
    /// Each of `values` in a write of its own to one open `path`.
    func write(_ path: String, _ values: [String]) throws(CgroupError)
}

/// Makes and writes at once.
struct ImmediateCgroupWriter: CgroupWriter {
    func makeDirectories(_ directory: String, hierarchy: String) throws(CgroupError) {
        try CgroupFiles.makeDirectories(directory, hierarchy: hierarchy)
    }

    func write(_ path: String, _ values: [String]) throws(CgroupError) {
        do {
            if values.count == 1 { try Files.write(path, values[0]) } else { try Files.writeEach(path, values) }
        } catch {
            throw CgroupError(error)
        }
    }
}

/// Writes the steps down instead. Only a directory whose parent is the shared base
/// (`isorun/<id>`) is taken: an ancestor this run makes gets a mark (`CgroupFiles.markMade`)
/// that the helper does not set, so a deeper path refuses and the caller makes it at once.
final class CgroupJobRecorder: CgroupWriter {
    private(set) var steps: [CgroupJob.Step] = []

    func makeDirectories(_ directory: String, hierarchy: String) throws(CgroupError) {
        let base = CgroupFiles.sharedBase(in: hierarchy)
        guard directory.hasPrefix(base + "/"), !directory.dropFirst(base.count + 1).contains("/") else {
            throw CgroupError("\(directory): below an ancestor the helper would not mark")
        }
        steps.append(.makeDirectory(base))
        steps.append(.makeDirectory(directory))
    }

    func write(_ path: String, _ values: [String]) throws(CgroupError) {
        steps.append(.write(path, values))
    }
}
