import Testing
@testable import IsorunBench

struct StatisticsTests {
    @Test func percentilesOfAKnownSeries() throws {
        // 1 ms … 100 ms in 1 ms steps.
        let samples = (1...100).map { UInt64($0) * 1_000_000 }
        let summary = try #require(Statistics.summarize(nanoseconds: samples))
        #expect(summary.count == 100)
        #expect(abs(summary.mean - 50.5) < 0.1)
        #expect(abs(summary.p50 - 50) < 0.1)
        #expect(abs(summary.p90 - 90) < 0.1)
        #expect(abs(summary.p99 - 99) < 0.1)
        #expect(abs(summary.min - 1) < 0.01)
        #expect(abs(summary.max - 100) < 0.1)
        #expect(abs(summary.standardDeviation - 28.87) < 0.1)
    }

    @Test func noSamplesNoSummary() {
        #expect(Statistics.summarize(nanoseconds: []) == nil)
    }

    @Test func fixedPointFormatting() {
        #expect(format(1.25, decimals: 2) == "1.25")
        #expect(format(0.05, decimals: 2) == "0.05")
        #expect(format(12.0, decimals: 1) == "12.0")
        #expect(format(-0.5, decimals: 1) == "-0.5")
        #expect(BarChart.number(435.4) == "435")
        #expect(BarChart.number(10.06) == "10.1")
    }
}

struct ReportTests {
    func report() -> BenchReport {
        BenchReport(
            scenario: "startup",
            environment: Environment(kernel: "6.1", cpus: 2, cgroups: "v2", accelerator: "tcg", peers: ["runc": "runc 1.1"]),
            series: [
                Series(name: "fast", command: ["/bin/true"], samplesNanoseconds: [1_000_000, 1_000_000]),
                Series(name: "reference", command: ["x"], samplesNanoseconds: [4_000_000, 4_000_000]),
                Series(name: "slow <vm>", command: ["y"], samplesNanoseconds: [400_000_000]),
                Series(name: "absent", command: ["z"], samplesNanoseconds: [], skipped: "z is not installed"),
            ])
    }

    @Test func markdownHasOneRowPerSeriesWithRatios() {
        let markdown = report().markdown(reference: "reference")
        let rows = markdown.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| series") }
        #expect(rows.count == 4)
        #expect(rows[0].contains("4.00× faster"))
        #expect(rows[1].contains("reference"))
        #expect(rows[2].contains("100.00× slower"))
        #expect(rows[3].contains("skipped: z is not installed"))
        #expect(markdown.contains("![startup](startup.svg)"))
    }

    @Test func chartIsWellFormedEscapedAndLogarithmicForWideSpreads() {
        let chart = report().chart
        #expect(chart.logarithmic)
        #expect(chart.bars.map(\.label) == ["fast", "reference", "slow <vm>"])
        let svg = chart.svg
        #expect(svg.hasPrefix("<svg "))
        #expect(svg.hasSuffix("</svg>\n"))
        #expect(svg.contains("slow &lt;vm&gt;"))
        #expect(!svg.contains("<vm>"))
        #expect(svg.components(separatedBy: "<rect ").count - 1 == 1 + 3)
    }

    @Test func groupsGetTheirOwnTableNoteAndChart() {
        var report = report()
        report.series.append(Series(name: "isorun sandbox", command: [], samplesNanoseconds: [2_000_000], group: "stop"))
        report.series.append(Series(name: "runc", command: [], samplesNanoseconds: [8_000_000], group: "stop"))
        report.groupNotes = ["stop": "SIGTERM to gone."]
        let markdown = report.markdown(reference: "isorun sandbox")
        #expect(markdown.contains("## stop\n\nSIGTERM to gone.\n"))
        #expect(markdown.contains("| runc | 1 | 8.00 |"), "\(markdown)")
        #expect(markdown.contains("| runc | 1 | 8.00 | 8.00 ± 0.00 | 8.00 | 8.00 | 8.00 … 8.00 | 4.00× slower |"), "\(markdown)")
        #expect(markdown.contains("![startup stop](startup-stop.svg)"))
        #expect(report.chart.bars.map(\.label) == ["fast", "reference", "slow <vm>"])
        #expect(report.chart(group: "stop").bars.map(\.label) == ["isorun sandbox", "runc"])
    }

    @Test func densityAddsAMemoryTableAndChart() {
        var report = report()
        report.memory = [MemoryRow(name: "vm", instances: 2, hostKiBPerInstance: 76_288, proportionalKiBPerInstance: 128_819,
                                   stopMillisecondsPerInstance: 15)]
        let markdown = report.markdown(reference: "reference")
        #expect(markdown.contains("| vm | 2 | 74.5 | 125.8 | 15.0 |"))
        #expect(report.memoryChart?.bars.map(\.label) == ["vm"])
        #expect(self.report().memoryChart == nil)
    }

    @Test func jsonKeepsRawSamplesAndEnvironment() throws {
        let json = try report().json()
        #expect(json.contains("\"samplesNanoseconds\""))
        #expect(json.contains("\"accelerator\" : \"tcg\""))
        #expect(json.contains("\"skipped\" : \"z is not installed\""))
    }
}

struct BlastReportTests {
    let report = BlastReport(
        environment: Environment(kernel: "6.1", cpus: 2, cgroups: "v2", accelerator: "tcg", peers: [:]),
        windowSeconds: 3,
        cells: [
            BlastCell(mode: "bare", fault: "kill -9 -1", survived: false, degradationPercent: 100, note: nil),
            BlastCell(mode: "sandbox", fault: "kill -9 -1", survived: true, degradationPercent: 4.4, note: nil),
            BlastCell(mode: "bare", fault: "crash", survived: nil, degradationPercent: nil, note: "not run: host"),
            BlastCell(mode: "sandbox", fault: "crash", survived: true, degradationPercent: 62, note: nil),
        ])

    @Test func matrixHasAFaultPerRowAndAModePerColumn() {
        let markdown = report.markdown()
        #expect(markdown.contains("| fault | bare | sandbox |"))
        #expect(markdown.contains("| kill -9 -1 | killed | survived, −4% |"))
        #expect(markdown.contains("| crash | not run: host | survived, −62% |"))
    }

    @Test func heatMapColoursByOutcome() {
        let svg = report.svg
        #expect(svg.contains("#e15759"))   // killed
        #expect(svg.contains("#8cd17d"))   // unharmed
        #expect(svg.contains("#f28e2b"))   // badly degraded
        #expect(svg.contains("#dddddd"))   // not run
        #expect(svg.hasSuffix("</svg>\n"))
    }
}

struct OvercommitReportTests {
    @Test func planAndPhasesBecomeTables() {
        let report = OvercommitReport(
            environment: Environment(kernel: "6.1", cpus: 2, cgroups: "v2", accelerator: "tcg", peers: [:]),
            budgetMiB: 1024, cores: 2,
            plan: [OvercommitPlan(instance: "DBServer", cpus: 1.5, memoryMiB: 384),
                   OvercommitPlan(instance: "AppServer", cpus: 1, memoryMiB: 256)],
            results: [OvercommitResult(mode: "vm", phase: "idle", instance: "DBServer", alive: true, dotsPerSecond: 0),
                      OvercommitResult(mode: "vm", phase: "idle", instance: "AppServer", alive: true, dotsPerSecond: 0),
                      OvercommitResult(mode: "vm", phase: "all pushing", instance: "DBServer", alive: false, dotsPerSecond: 0),
                      OvercommitResult(mode: "vm", phase: "all pushing", instance: "AppServer", alive: true, dotsPerSecond: 72.4, peakMiB: 230)])
        let markdown = report.markdown()
        #expect(markdown.contains("Promised: 2.5 CPUs on 2 cores, 640 MiB in a 1024 MiB budget"))
        #expect(markdown.contains("| DBServer | 1.50 | 384 |"))
        #expect(markdown.contains("| all pushing | **killed** | 72/s, 230 MiB |"))
        #expect(report.svg.contains("vm · DBServer (killed)"))
        #expect(report.svg.hasSuffix("</svg>\n"))
    }
}
