import FoundationEssentials
import IsorunCore
import IsorunSys

/// `isorun bench targets`: the start-up targets judged over the rounds of several
/// `bench startup` reports together. One run of 40 rounds seldom decides a target this
/// host's noise keeps near its threshold; the rounds of a dozen runs can. Each report's
/// rounds keep their pairing (both series timed back to back); only the verdict pools.
public enum PooledTargets {
    /// The startup report at `path`: a report directory (its `startup.json`) or that file.
    public static func load(_ path: String) throws(IsorunError) -> BenchReport {
        let file = Files.isDirectory(path) ? "\(path)/startup.json" : path
        let text: String
        do { text = try Files.readString(file) } catch { throw IsorunError("bench targets: \(file): \(error)") }
        let report: BenchReport
        do { report = try JSONDecoder().decode(BenchReport.self, from: Data(text.utf8)) } catch {
            throw IsorunError("bench targets: \(file): not a bench report (\(error))")
        }
        guard report.scenario == "startup" else {
            throw IsorunError("bench targets: \(file): a '\(report.scenario)' report; targets come from 'startup' reports")
        }
        return report
    }

    /// The verdicts over every report's rounds.
    public static func check(_ reports: [BenchReport]) -> [TargetCheck] {
        SpeedTargets.pooled(reports.map(\.series))
    }

    /// The verdicts as JSON, as `startup.json` has them under `targets`.
    public static func json(_ checks: [TargetCheck]) throws -> String { try prettyJSON(checks) }

    /// The Targets table under a line saying what was pooled.
    public static func markdown(_ checks: [TargetCheck], reports: Int) -> String {
        (["# isorun bench targets", "", "Pooled over \(reports) startup report\(reports == 1 ? "" : "s").", ""]
            + SpeedTargets.markdown(checks) + [""]).joined(separator: "\n")
    }
}
