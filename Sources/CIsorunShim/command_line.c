// The Swift runtime's two command-line entry points, answered from the arguments glibc
// passes to constructors.
//
// On Linux the Swift runtime finds argv in a static constructor of its own, on every start:
// it opens /proc/self/maps and parses every line to find the stack, then walks back from
// `environ`. glibc already hands argc and argv to every `.init_array` function, so one
// constructor can keep them instead.
//
// In the static release binary these definitions stand in for libswiftCore.a's: a static
// link takes an archive member only for a symbol nothing else defines, so the runtime's
// CommandLine object, and its constructor, are never linked. A dynamic link (debug builds,
// tests) keeps libswiftCore.so's own, which calls itself, and these go unused.
#include <stddef.h>

static char *no_arguments[] = { NULL };
static char **captured_argv = no_arguments;
static int captured_argc;

static char **override_argv;
static int override_argc;

// Priority 101, like the network namespace's head start: before the Swift runtime's
// constructors, which run at the default priority.
__attribute__((constructor(101))) static void capture_arguments(int argc, char **argv, char **envp) {
    (void)envp;
    if (argv == NULL) return;
    captured_argc = argc;
    captured_argv = argv;
}

/// What `CommandLine.unsafeArgv` and `CommandLine.argc` read (the runtime's contract:
/// the array outlives the process and is not the caller's to free).
__attribute__((swiftcall)) char **_swift_stdlib_getUnsafeArgvArgc(int *count) {
    if (override_argv != NULL) {
        *count = override_argc;
        return override_argv;
    }
    *count = captured_argc;
    return captured_argv;
}

/// The runtime's hook for hosts that run Swift code with arguments of their own (the
/// interpreter); kept so that the symbol means what it means in the runtime.
__attribute__((swiftcall)) void _swift_stdlib_overrideUnsafeArgvArgc(char **argv, int argc) {
    override_argv = argv;
    override_argc = argc;
}
