// The network namespace's helper (network_namespace.c) started from a constructor, before
// the Swift runtime, for the command lines that will ask for it.
//
// Started from Swift, the helper came 0.2-0.3 ms later: the Swift runtime's start and the
// parsing of the arguments come first. Started here, it shares none of the pages that
// start-up writes, so they cost isorun no copy-on-write faults (143 -> 128 page faults per
// sandbox run), and its namespace is ready further ahead of the container's clone.
// Interleaved A/Bs of 300 sandbox runs: medians 4.99 -> 4.88 and 4.76 -> 4.51 ms.
//
// This file guesses from argv; it decides nothing. NetworkNamespaceHeadStart.begin()
// takes the helper over where Swift would have started one, and claim() still decides
// whether the container uses the namespace. A wrong "yes" costs a helper that is killed
// and reaped at exit; a wrong "no" only means that Swift starts the helper itself, later,
// as it did before.
#include "isorun_shim.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static struct isorun_network_namespace early = { 0, -1, -EAGAIN };

static int equal(const char *a, const char *b) { return strcmp(a, b) == 0; }

/// runc's leading global flags that take a value, as LeadingGlobals.swift reads them.
static int is_global_with_value(const char *argument) {
    static const char *const names[] = { "--root", "--log", "--log-format", "--criu", "--rootless" };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        size_t length = strlen(names[i]);
        if (strncmp(argument, names[i], length) == 0 && (argument[length] == '\0' || argument[length] == '='))
            return 1;
    }
    return 0;
}

/// isorun's commands other than `run` and `create` (FastRunParser.subcommandNames; a unit
/// test checks that the two lists agree): none of them makes a network namespace.
static int is_other_command(const char *word) {
    static const char *const names[] = { "bench", "help", "start", "state", "kill", "delete", "list", "features", "ps",
                                         "pause", "resume", "spec", "exec", "update", "events", "vm-monitor", "vm-exec" };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (equal(word, names[i])) return 1;
    return 0;
}

int isorun_network_namespace_expected(int argc, char *const argv[]) {
    if (argc < 2 || argv[0] == NULL) return 0;
    // The test runner and other programs that link the shim are not isorun.
    const char *name = strrchr(argv[0], '/');
    name = name ? name + 1 : argv[0];
    if (!equal(name, "isorun") && !equal(name, "isorun-oci")) return 0;
    // The helper's socket takes the lowest free descriptor, which may be one the caller
    // meant to pass on and forgot to open: `--preserve-fds` would then find it open and
    // hand it to the workload. Such a start gets its helper from Swift, after the check.
    for (int i = 1; i < argc && !equal(argv[i], "--"); i++)
        if (strncmp(argv[i], "--preserve-fds", 14) == 0) return 0;
    int index = 1;
    while (index < argc) {
        const char *argument = argv[index];
        if (equal(argument, "--debug") || equal(argument, "--systemd-cgroup")) {
            index++;
        } else if (is_global_with_value(argument)) {
            index += strchr(argument, '=') ? 1 : 2;
        } else {
            break;
        }
    }
    if (index >= argc) return 0;
    if (equal(argv[index], "create")) return 1;
    if (equal(argv[index], "run")) index++;
    else if (is_other_command(argv[index])) return 0;
    // `[run] [--mode M] ... BUNDLE [-- ARGS]`: the sandbox is the default mode.
    const char *mode = "sandbox";
    int has_bundle = 0;
    for (; index < argc && !equal(argv[index], "--"); index++) {
        const char *argument = argv[index];
        if (equal(argument, "--mode") && index + 1 < argc) mode = argv[++index];
        else if (strncmp(argument, "--mode=", 7) == 0) mode = argument + 7;
        else if (argument[0] != '-') has_bundle = 1;
    }
    return has_bundle && equal(mode, "sandbox");
}

int isorun_early_network_namespace_take(struct isorun_network_namespace *ns) {
    if (early.pid <= 0) return -1;
    *ns = early;
    early = (struct isorun_network_namespace){ 0, -1, -EAGAIN };
    return 0;
}

/// At exit: a helper nothing took goes, so that no process is left behind.
static void release_untaken(void) {
    if (early.pid <= 0) return;
    kill(early.pid, SIGKILL);
    if (early.socket >= 0) close(early.socket);
    isorun_network_namespace_release(&early);
}

// Priority 101: before the constructors of the Swift runtime and libcap, which run at the
// default priority. glibc has finished its own start by then.
__attribute__((constructor(101))) static void start_early(int argc, char **argv, char **envp) {
    (void)envp;
    // Rootless, a network namespace can only be made inside the container's user namespace.
    if (geteuid() != 0 || !isorun_network_namespace_expected(argc, argv)) return;
    if (isorun_network_namespace_start(&early) == 0) atexit(release_untaken);
}
