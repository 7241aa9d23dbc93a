import Histogram

/// Percentiles and moments of one series of durations, in milliseconds.
public struct SampleSummary: Codable, Equatable, Sendable {
    public var count: Int
    public var mean: Double
    public var standardDeviation: Double
    public var min: Double
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var max: Double
}

/// Summaries through an HdrHistogram: percentiles with 3 significant digits from
/// 1 µs to 10 minutes, the same way whatever the number of samples.
public enum Statistics {
    public static func summarize(nanoseconds samples: [UInt64]) -> SampleSummary? {
        guard !samples.isEmpty else { return nil }
        var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000,
                                          numberOfSignificantValueDigits: .three)
        for sample in samples { _ = histogram.record(Swift.max(sample / 1_000, 1)) }
        let milliseconds = { (microseconds: UInt64) in Double(microseconds) / 1_000 }
        return SampleSummary(
            count: samples.count, mean: histogram.mean / 1_000, standardDeviation: histogram.stdDeviation / 1_000,
            min: milliseconds(histogram.min), p50: milliseconds(histogram.valueAtPercentile(50)),
            p90: milliseconds(histogram.valueAtPercentile(90)), p99: milliseconds(histogram.valueAtPercentile(99)),
            max: milliseconds(histogram.max))
    }
}
