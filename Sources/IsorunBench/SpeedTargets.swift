/// The start-up targets, judged round by round. The interleaved scenario times every series
/// once per round, so each round gives one ratio (or difference) measured under the same
/// load; the median over the rounds is the figure, and a bootstrap over the rounds gives the
/// interval this host's noise leaves around it. A target is met only when the whole interval
/// is on its side, missed only when the whole interval is on the other, and otherwise the
/// run cannot tell.
public struct TargetCheck: Codable, Sendable, Equatable {
    public enum Verdict: String, Codable, Sendable {
        case met
        case missed = "not met"
        case undecided = "within the noise"
    }

    public var target: String
    /// The median over rounds, in `unit`.
    public var median: Double
    /// 95% bootstrap interval of that median.
    public var low: Double
    public var high: Double
    /// "×" (faster by, larger is better) or "ms" (extra time, smaller is better).
    public var unit: String
    public var rounds: Int
    public var verdict: Verdict
}

enum SpeedTargets {
    /// One comparison: `subject` against `peer`, in the given group of series.
    struct Rule {
        var target: String
        var subject: String
        var peer: String
        var group: String?
        /// Ratio peer/subject at least `threshold`, or difference subject − peer at most
        /// `threshold` milliseconds.
        var kind: Kind
        var threshold: Double
        enum Kind { case atLeastTimesFaster, atMostMillisecondsSlower }
    }

    static let rules: [Rule] = [
        Rule(target: "isorun sandbox no slower than bwrap", subject: "isorun sandbox", peer: "bwrap", group: nil,
             kind: .atLeastTimesFaster, threshold: 1),
        Rule(target: "isorun sandbox ≥ 7× faster than runc", subject: "isorun sandbox", peer: "runc", group: nil,
             kind: .atLeastTimesFaster, threshold: 7),
        Rule(target: "isorun bare within 2 ms of /bin/true", subject: "isorun bare", peer: "/bin/true", group: nil,
             kind: .atMostMillisecondsSlower, threshold: 2),
        Rule(target: "containerd's create+start+delete (isorun-oci) ≥ 7× faster than runc's",
             subject: "isorun-oci create+start+delete", peer: "runc create+start+delete", group: StartupScenario.lifecycleGroup,
             kind: .atLeastTimesFaster, threshold: 7),
    ]

    /// The checks `series` allows: a rule whose two series were both measured in every
    /// round (the same number of samples) gets one.
    static func check(_ series: [Series], resamples: Int = 2000) -> [TargetCheck] {
        pooled([series], resamples: resamples)
    }

    /// The checks over the rounds of several reports together (`isorun bench targets`):
    /// each report's rounds give their ratios or differences, and the verdict is taken over
    /// all of them, so runs of 40 rounds pool into a judgement of hundreds. A report that
    /// lacks a rule's series (a peer that was not installed) adds no rounds to it.
    static func pooled(_ reports: [[Series]], resamples: Int = 2000) -> [TargetCheck] {
        rules.compactMap { rule in
            let perRound = reports.compactMap { values(of: rule, in: $0) }.flatMap { $0 }
            return perRound.isEmpty ? nil : judge(rule, perRound: perRound, resamples: resamples)
        }
    }

    /// Each round's ratio (peer/subject) or difference (subject − peer, ms); nil unless both
    /// series were measured in every round.
    static func values(of rule: Rule, in series: [Series]) -> [Double]? {
        guard let subject = samples(rule.subject, rule.group, in: series), let peer = samples(rule.peer, rule.group, in: series),
              !subject.isEmpty, subject.count == peer.count else { return nil }
        return zip(subject, peer).map { mine, theirs in
            switch rule.kind {
            case .atLeastTimesFaster: Double(theirs) / Double(Swift.max(mine, 1))
            case .atMostMillisecondsSlower: (Double(mine) - Double(theirs)) / 1_000_000
            }
        }
    }

    static func judge(_ rule: Rule, perRound: [Double], resamples: Int) -> TargetCheck {
        let (low, high) = bootstrapInterval(ofMedianOf: perRound, resamples: resamples)
        let verdict: TargetCheck.Verdict = switch rule.kind {
        case .atLeastTimesFaster: low >= rule.threshold ? .met : high < rule.threshold ? .missed : .undecided
        case .atMostMillisecondsSlower: high <= rule.threshold ? .met : low > rule.threshold ? .missed : .undecided
        }
        return TargetCheck(target: rule.target, median: median(perRound), low: low, high: high,
                           unit: rule.kind == .atLeastTimesFaster ? "×" : "ms", rounds: perRound.count, verdict: verdict)
    }

    static func samples(_ name: String, _ group: String?, in series: [Series]) -> [UInt64]? {
        series.first { $0.name == name && $0.group == group && $0.skipped == nil }?.samplesNanoseconds
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// The 2.5th and 97.5th percentiles of the medians of `resamples` samples of the rounds,
    /// drawn with replacement by a fixed-seed generator, so that a report can be recomputed.
    static func bootstrapInterval(ofMedianOf values: [Double], resamples: Int) -> (Double, Double) {
        var generator = SplitMix64(seed: 0x5EED)
        var medians: [Double] = []
        medians.reserveCapacity(resamples)
        for _ in 0..<resamples {
            let drawn = values.indices.map { _ in values[Int(generator.next() % UInt64(values.count))] }
            medians.append(median(drawn))
        }
        medians.sort()
        let at = { (fraction: Double) in medians[Swift.min(medians.count - 1, Int(fraction * Double(medians.count)))] }
        return (at(0.025), at(0.975))
    }

    /// The Markdown section: one row per target.
    static func markdown(_ checks: [TargetCheck]) -> [String] {
        guard !checks.isEmpty else { return [] }
        var lines = [
            "## Targets", "",
            "Judged round by round: each round's ratio (or difference) of two series timed back to back, the median "
                + "over the rounds, and a 95% bootstrap interval of that median. A target is met or not met only when "
                + "the whole interval says so.", "",
            "| target | median per round | 95% interval | rounds | verdict |",
            "|---|---|---|---|---|",
        ]
        for check in checks {
            let value = { (x: Double) in check.unit == "×" ? "\(format(x, decimals: 2))×" : "\(x < 0 ? "" : "+")\(format(x, decimals: 2)) ms" }
            let verdict = check.verdict == .missed ? "**\(check.verdict.rawValue)**" : check.verdict.rawValue
            lines.append("| \(check.target) | \(value(check.median)) | \(value(check.low)) … \(value(check.high)) | "
                         + "\(check.rounds) | \(verdict) |")
        }
        return lines
    }
}

/// A small deterministic generator (SplitMix64), for resampling that gives the same
/// interval every time the same samples are judged.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
