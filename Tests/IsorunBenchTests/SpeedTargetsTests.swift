import Testing
@testable import IsorunBench

/// The round-by-round verdicts of `isorun bench startup`, on made-up samples.
struct SpeedTargetsTests {
    /// Main-table series with the given per-round milliseconds.
    func series(sandbox: [Double], runc: [Double], bwrap: [Double]? = nil, bare: [Double]? = nil, hostTrue: [Double]? = nil) -> [Series] {
        let nanoseconds = { (values: [Double]) in values.map { UInt64($0 * 1_000_000) } }
        var all = [Series(name: "isorun sandbox", command: [], samplesNanoseconds: nanoseconds(sandbox)),
                   Series(name: "runc", command: [], samplesNanoseconds: nanoseconds(runc))]
        if let bwrap { all.append(Series(name: "bwrap", command: [], samplesNanoseconds: nanoseconds(bwrap))) }
        if let bare { all.append(Series(name: "isorun bare", command: [], samplesNanoseconds: nanoseconds(bare))) }
        if let hostTrue { all.append(Series(name: "/bin/true", command: [], samplesNanoseconds: nanoseconds(hostTrue))) }
        return all
    }

    func check(_ target: String, in series: [Series]) throws -> TargetCheck {
        try #require(SpeedTargets.check(series, resamples: 500).first { $0.target.hasPrefix(target) })
    }

    @Test func aRatioClearOfTheThresholdInEveryRoundIsMetOrMissed() throws {
        let fast = try check("isorun sandbox ≥ 7×", in: series(sandbox: Array(repeating: 4, count: 20), runc: Array(repeating: 32, count: 20)))
        #expect(fast.verdict == .met && fast.median == 8 && fast.low == 8 && fast.high == 8 && fast.rounds == 20)
        let slow = try check("isorun sandbox ≥ 7×", in: series(sandbox: Array(repeating: 5, count: 20), runc: Array(repeating: 30, count: 20)))
        #expect(slow.verdict == .missed && slow.median == 6)
    }

    @Test func roundsOnBothSidesOfTheThresholdAreWithinTheNoise() throws {
        // Rounds alternate between 6.5× and 7.5×: the median could be either.
        let sandbox = Array(repeating: 4.0, count: 30)
        let runc = (0..<30).map { $0 % 2 == 0 ? 26.0 : 30.0 }
        let result = try check("isorun sandbox ≥ 7×", in: series(sandbox: sandbox, runc: runc))
        #expect(result.verdict == .undecided)
        #expect(result.low < 7 && result.high > 7)
    }

    @Test func pairsAreTakenRoundByRoundNotFromTheMedians() throws {
        // Per round 8×, 5×, 8× (median 8×); the two series' own medians, 24 and 4 ms, would say 6×.
        let result = try check("isorun sandbox ≥ 7×", in: series(sandbox: [3, 4, 5], runc: [24, 20, 40]))
        #expect(abs(result.median - 8) < 0.01, "\(result)")
    }

    @Test func bareModeIsJudgedOnItsExtraMilliseconds() throws {
        let all = series(sandbox: [4, 4, 4], runc: [30, 30, 30], bwrap: [5, 5, 5], bare: [2.5, 2.6, 2.7], hostTrue: [0.8, 0.8, 0.8])
        let bare = try check("isorun bare", in: all)
        #expect(bare.unit == "ms" && bare.verdict == .met && abs(bare.median - 1.8) < 0.001)
        #expect(try check("isorun sandbox no slower than bwrap", in: all).verdict == .met)
        let late = try check("isorun bare", in: series(sandbox: [4], runc: [30], bare: [3.5], hostTrue: [1]))
        #expect(late.verdict == .missed)
    }

    @Test func aSeriesMissingOrCutShortGetsNoVerdict() {
        var all = series(sandbox: [4, 4, 4], runc: [30, 30])
        #expect(SpeedTargets.check(all).isEmpty)
        all = series(sandbox: [4, 4], runc: [30, 30])
        all[1].skipped = "runc is not installed"
        #expect(SpeedTargets.check(all).isEmpty)
    }

    @Test func theSectionListsEveryVerdict() {
        let checks = SpeedTargets.check(series(sandbox: [4, 4], runc: [32, 32], bare: [2.9, 2.9], hostTrue: [0.8, 0.8]))
        let markdown = SpeedTargets.markdown(checks).joined(separator: "\n")
        #expect(markdown.contains("| isorun sandbox ≥ 7× faster than runc | 8.00× | 8.00× … 8.00× | 2 | met |"), "\(markdown)")
        #expect(markdown.contains("| isorun bare within 2 ms of /bin/true | +2.10 ms | +2.10 ms … +2.10 ms | 2 | **not met** |"), "\(markdown)")
    }

    /// `bench targets`: each report's rounds keep their pairs, and the verdict is over all of
    /// them; a report without runc adds no rounds to the runc target but still counts for bwrap.
    @Test func poolsTheRoundsOfSeveralReports() throws {
        let first = series(sandbox: [4, 4], runc: [26, 26], bwrap: [5, 5])      // 6.5× each round
        let second = series(sandbox: [4, 4, 4], runc: [30, 30, 30], bwrap: [5, 5, 5])  // 7.5×
        var third = series(sandbox: [4], runc: [40], bwrap: [5])
        third[1].skipped = "runc is not installed"
        let checks = SpeedTargets.pooled([first, second, third], resamples: 500)
        let runc = try #require(checks.first { $0.target.hasPrefix("isorun sandbox ≥ 7×") })
        #expect(runc.rounds == 5 && runc.median == 7.5, "\(runc)")
        let bwrap = try #require(checks.first { $0.target.hasPrefix("isorun sandbox no slower") })
        #expect(bwrap.rounds == 6 && bwrap.verdict == .met)
        // One report alone is what `bench startup` judges.
        #expect(SpeedTargets.pooled([second], resamples: 500) == SpeedTargets.check(second, resamples: 500))
    }

    @Test func theResamplingIsRepeatable() {
        let values = (0..<40).map { Double(($0 * 7919) % 97) }
        #expect(SpeedTargets.bootstrapInterval(ofMedianOf: values, resamples: 300) == SpeedTargets.bootstrapInterval(ofMedianOf: values, resamples: 300))
    }
}
