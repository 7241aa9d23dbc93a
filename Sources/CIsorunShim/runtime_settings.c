// The Swift runtime's crash backtracer, switched off before the runtime starts in the
// static binary, where it could never run.
//
// At every start the runtime's backtracing set-up looks for its helper program,
// swift-backtrace, in libexec/ directories beside the runtime. In a static binary that
// means beside isorun itself, where nothing installs it, so the search (a readlink and
// eight stats: ~35 µs of CPU here, in every command) always fails and leaves backtracing
// off. Only an explicit helper path skips the search, so the runtime is handed one for its
// start, with backtracing off, and the variable is taken back before any isorun code runs
// (isorun_runtime_settings_restore, first thing in IsorunCommand.runAndExit): no workload,
// hook, QEMU or benchmark peer inherits it. A caller's own SWIFT_BACKTRACE is left alone,
// and so is a dynamically linked isorun (debug builds, tests), whose runtime finds the
// toolchain's helper.
#include "isorun_shim.h"

#include <stdlib.h>
#include <sys/auxv.h>

static const char backtracer_off[] = "enable=no,swift-backtrace=";
static int set_for_runtime_start;

const char *isorun_runtime_backtrace_setting(int statically_linked, const char *callers_setting) {
    return statically_linked && callers_setting == NULL ? backtracer_off : NULL;
}

// Priority 101: before the Swift runtime's constructors, which run at the default priority.
// A static executable has no program interpreter, so the kernel passes no AT_BASE.
__attribute__((constructor(101))) static void hand_the_runtime_its_settings(void) {
    const char *setting = isorun_runtime_backtrace_setting(getauxval(AT_BASE) == 0, getenv("SWIFT_BACKTRACE"));
    if (setting != NULL) set_for_runtime_start = setenv("SWIFT_BACKTRACE", setting, 0) == 0;
}

void isorun_runtime_settings_restore(void) {
    if (set_for_runtime_start) unsetenv("SWIFT_BACKTRACE");
    set_for_runtime_start = 0;
}
