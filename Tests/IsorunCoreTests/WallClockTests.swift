import Glibc
@testable import IsorunSys
import Testing

/// The state files' timestamps against glibc's own calendar (gmtime_r), which the
/// runtime avoids only because it loads the time zone database.
struct WallClockTests {
    @Test(arguments: [Int64(0), 951_782_400, 951_868_799, 4_107_542_400, -1, -86_400, -2_203_891_200, 253_402_300_799,
                      1_795_000_000])
    func datesMatchGlibc(seconds: Int64) {
        var parts = tm()
        var time = time_t(seconds)
        gmtime_r(&time, &parts)
        let date = WallClock.civilDate(daysSinceEpoch: seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400)
        #expect(date.year == Int64(parts.tm_year) + 1900)
        #expect(date.month == Int(parts.tm_mon) + 1)
        #expect(date.day == Int(parts.tm_mday))
    }

    @Test func everyDayOfFourCenturiesMatchesGlibc() {
        // 1900-01-01 to 2300-01-01, one sample a day at a varying time of day.
        var mismatches = 0
        for day in Int64(-25_567)...Int64(120_529) {
            let seconds = day * 86_400 + ((day * 7919) % 86_400 + 86_400) % 86_400
            var parts = tm()
            var time = time_t(seconds)
            gmtime_r(&time, &parts)
            let date = WallClock.civilDate(daysSinceEpoch: day)
            if date.year != Int64(parts.tm_year) + 1900 || date.month != Int(parts.tm_mon) + 1 || date.day != Int(parts.tm_mday) {
                mismatches += 1
            }
        }
        #expect(mismatches == 0)
    }

    @Test func formatsAsRFC3339() {
        #expect(WallClock.rfc3339(seconds: 1_795_000_000, nanoseconds: 42) == "2026-11-18T11:06:40.000000042Z")
        #expect(WallClock.rfc3339(seconds: 951_868_799, nanoseconds: 999_999_999) == "2000-02-29T23:59:59.999999999Z")
        #expect(WallClock.rfc3339(seconds: 0, nanoseconds: 0) == "1970-01-01T00:00:00.000000000Z")
    }
}
