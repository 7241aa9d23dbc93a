import CIsorunShim
import Testing

/// What the shim hands the Swift runtime for its start (runtime_settings.c): only a static
/// isorun whose caller set no SWIFT_BACKTRACE gets the setting that skips the backtracer's
/// search; a caller's own setting and a dynamic build are left alone.
struct RuntimeSettingsTests {
    static func setting(statically linked: Bool, callers: String?) -> String? {
        let answer = callers.map { isorun_runtime_backtrace_setting(linked ? 1 : 0, $0) } ?? isorun_runtime_backtrace_setting(linked ? 1 : 0, nil)
        return answer.map { String(cString: $0) }
    }

    @Test func aStaticBinaryGetsBacktracingOffWithAHelperPath() {
        #expect(Self.setting(statically: true, callers: nil) == "enable=no,swift-backtrace=")
    }

    @Test func theCallersSettingAndADynamicBuildAreLeftAlone() {
        #expect(Self.setting(statically: true, callers: "enable=yes") == nil)
        #expect(Self.setting(statically: true, callers: "") == nil)
        #expect(Self.setting(statically: false, callers: nil) == nil)
    }
}
