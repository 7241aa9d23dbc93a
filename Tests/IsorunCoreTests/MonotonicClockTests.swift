import IsorunSys
import Testing

struct MonotonicClockTests {
    /// Every wait with a deadline (QMP replies, a benchmark's first line) asks this for its
    /// poll timeout; one that has passed ends the wait instead of trapping on the subtraction.
    @Test func aPassedDeadlineLeavesNoTime() {
        let now = MonotonicClock.nanoseconds()
        #expect(MonotonicClock.millisecondsLeft(until: now) == nil)
        #expect(MonotonicClock.millisecondsLeft(until: 0) == nil)
        #expect(MonotonicClock.millisecondsLeft(until: now - 1) == nil)
    }

    @Test func aComingDeadlineRoundsUpAndFitsAPollTimeout() throws {
        let now = MonotonicClock.nanoseconds()
        let left = try #require(MonotonicClock.millisecondsLeft(until: now + 2_500_000_000))
        #expect(left > 2_000 && left <= 2_501)
        #expect(MonotonicClock.millisecondsLeft(until: .max) == Int32.max)
    }
}
