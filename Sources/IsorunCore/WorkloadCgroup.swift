import Glibc
import IsorunCgroups
import IsorunSpec
import IsorunSys

/// The cgroup every mode puts its workload in, created and recorded the same way.
public enum WorkloadCgroup {
    /// The manager for `request`'s cgroup; nothing is created yet.
    public static func manager(for request: RunRequest, resources: Resources?) throws(IsorunError) -> any CgroupManager {
        let layout: CgroupLayout
        do { layout = try CgroupLayout.host() } catch { throw IsorunError(error) }
        let path = Cgroups.relativePath(configured: request.bundle.config.linux?.cgroupsPath, id: request.id,
                                        systemd: request.systemdCgroupPath)
        let manager = Cgroups.manager(layout: layout, relativePath: path, resources: resources)
        guard HostProcess.isRootless, !Cgroups.mayCreate(manager.directories) else { return manager }
        // Rootless without a delegated cgroup: as runc does, a config that limits nothing
        // runs without a cgroup of its own. Device rules need none: in a user namespace
        // the kernel lets no device node be made, and isorun binds the default ones.
        if let limited = resources?.limitedFields.first {
            throw IsorunError("\(request.bundle.directory)/config.json: linux.resources.\(limited): isorun runs rootless (uid \(HostProcess.userID)) and may not create a cgroup under \(manager.directories.first ?? "/sys/fs/cgroup"); delegate one to the user (cgroup v2, e.g. systemd's Delegate=yes) and point linux.cgroupsPath into it, or remove the limit")
        }
        Log.debug("cgroup: rootless and no cgroup delegated (\(manager.directories.first ?? "")): the workload stays in isorun's own")
        return NoCgroup()
    }

    /// Records the cgroup in the run's state, then creates it and applies `resources`.
    public static func create(_ cgroup: any CgroupManager, resources: Resources?, state: RunState) throws(IsorunError) {
        try state.recordCgroup(directories: cgroup.directories)
        try createRecorded(cgroup, resources: resources)
    }

    /// Creates a cgroup already recorded and applies `resources`; removes it on failure.
    public static func createRecorded(_ cgroup: any CgroupManager, resources: Resources?) throws(IsorunError) {
        do throws(CgroupError) {
            try cgroup.create()
            if let resources { try cgroup.apply(resources) }
        } catch {
            try? cgroup.destroy()
            throw IsorunError(error)
        }
        if !cgroup.directories.isEmpty { Log.debug("cgroup: \(cgroup.directories.joined(separator: ", "))") }
    }

    /// Clones the child, lets `prepare` do the parent's part (uid maps, oom_score_adj),
    /// puts it in `cgroup` before it runs anything, and releases it to exec, running the
    /// request's prestart and createRuntime hooks when the child stops before pivot_root,
    /// and the request's `whileSettingUp` while the child sets itself up.
    /// With no `prepare` and no move into the cgroup, the child runs at once.
    public static func spawn(_ plan: SpawnPlan, into cgroup: any CgroupManager, for request: RunRequest,
                             prepare: ((pid_t) throws(IsorunError) -> Void)? = nil) throws(IsorunError) -> pid_t {
        var plan = plan
        // On v2 the child is created inside its cgroup; on v1 it moves itself in. Moving
        // it from here would cost an RCU grace period in the kernel (~7 ms on v1 here).
        cgroup.place(&plan)
        plan.parentStepsBeforeRelease = prepare != nil
            || (plan.cgroupJob == nil && plan.cgroupDirectory == nil && plan.cgroupTaskFiles.isEmpty)
        let child: PendingChild
        do { child = try Spawner.start(plan) } catch {
            try? cgroup.destroy()
            throw IsorunError("start workload", error)
        }
        do {
            try cgroup.addUnlessPlaced(child, plan: plan)
            try prepare?(child.pid)
        } catch let error as CgroupError {
            child.abort()
            try? cgroup.destroy()
            throw IsorunError(error)
        } catch {
            child.abort()
            try? cgroup.destroy()
            throw error as! IsorunError
        }
        let hooks = request.hooks
        /// A released child whose parent's part failed: it and its cgroup go, the error stays.
        func abandon(_ error: IsorunError) -> IsorunError {
            child.abort()
            cgroup.killAll()
            try? cgroup.destroy()
            return error
        }
        do {
            var states: (creating: [UInt8], created: [UInt8])?
            if !plan.createContainerHooks.isEmpty || !plan.startContainerHooks.isEmpty {
                states = (Array(request.hookState(pid: child.pid, status: .creating).json(pretty: false).utf8),
                          Array(request.hookState(pid: child.pid, status: .created).json(pretty: false).utf8))
            }
            try child.letGo(hookStates: states)
            if let whileSettingUp = request.whileSettingUp {
                do { try whileSettingUp(child.pid) } catch { throw abandon(error) }
            }
            if try child.awaitReport() == .atHookBarrier, let hooks {
                do {
                    let state = request.hookState(pid: child.pid, status: .creating)
                    try LifecycleHooks.run(hooks.hooks.prestart ?? [], phase: "prestart", state: state)
                    try LifecycleHooks.run(hooks.hooks.createRuntime ?? [], phase: "createRuntime", state: state)
                } catch {
                    throw abandon(error)
                }
                try child.resume()
            }
        } catch let error as ChildSetupError {
            cgroup.killAll()
            try? cgroup.destroy()
            throw IsorunError("workload setup failed: \(error)")
        } catch {
            throw error as! IsorunError
        }
        return child.pid
    }
}
