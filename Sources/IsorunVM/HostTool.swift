import IsorunCore
import IsorunSys

/// Runs a helper program on the host (an image builder) and waits for it.
enum HostTool {
    static func run(_ arguments: [String], environment: [String] = []) throws(IsorunError) -> Termination {
        var plan = SpawnPlan(arguments: arguments, environment: HostProcess.environment() + environment)
        plan.searchPath = HostProcess.variable("PATH") ?? ProcessSettings.defaultSearchPath
        do {
            let child = try Spawner.start(plan)
            try child.release()
            return try Processes.wait(child.pid)
        } catch let error as SystemError {
            throw IsorunError("run \(arguments[0])", error)
        } catch {
            throw IsorunError("run \(arguments[0]): \(error)")
        }
    }
}
