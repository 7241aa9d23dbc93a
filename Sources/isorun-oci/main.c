/*
 * isorun-oci: the binary containerd, podman and Kubernetes run as their OCI runtime.
 *
 * containerd runs its runtime three times per container (create, start, delete) and
 * once more for each signal. A process of the Swift binary costs ~0.9 ms here before it
 * does any work: glibc's start-up reads the CPU's features with 43 cpuid instructions,
 * which a virtualized host traps (~5 us each), and the Swift runtime starts. This
 * program is linked statically against musl and costs ~0.2 ms. It carries out `start`,
 * `delete` and `kill ID [NUMBER]` of an ordinary container from the plan `isorun create`
 * wrote for them (`lifecycle-plan`, see ContainerStore.swift) and hands every other
 * command line, unchanged, to the `isorun` binary beside it.
 *
 * It decides nothing: anything that is not exactly the plan's case (no plan, a flag it
 * does not know, a signal by name, a container already stopped for start or kill, a
 * running one deleted without --force, a paused one, a cgroup still in use, --debug) goes
 * to isorun, which does the whole command and words any error. Only a failure after the
 * point of no return (the container released, or its record removed) is reported here,
 * in isorun's words and log format.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "../CIsorunShim/include/isorun_child_error.h"

/* Names shared with the Swift side (ContainerStore, RuntimeRoot, CgroupFiles). A container
 * with a plan has no directory: its files sit beside its run's record `<root>/<id>`, as
 * `<root>/<id>+<file>`. */
#define RECORD_FILE "+container.json"
#define PLAN_FILE "+lifecycle-plan"
#define GATE_FILE "+exec.fifo"
#define MADE_MARK "trusted.isorun.made"
#define MAX_CGROUPS 16

static char **original_argv;

/* runc's leading global flags, as LeadingGlobals.swift reads them. */
struct globals {
    const char *root;
    const char *log;
    const char *log_format;
    int debug;
};

/* What `isorun create` wrote for this program. */
struct plan {
    pid_t pid;
    unsigned long long start_time;
    int cgroup_count;
    char cgroups[MAX_CGROUPS][PATH_MAX];
};

/* Runs the full isorun binary with this command line, unchanged. */
static _Noreturn void hand_over(void) {
    char self[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", self, sizeof self - 16);
    if (length > 0) {
        self[length] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            strcpy(slash + 1, "isorun");
            /* A copy of this program installed as `isorun` would exec itself forever. */
            struct stat mine, target;
            if (stat("/proc/self/exe", &mine) == 0 && stat(self, &target) == 0 && mine.st_dev == target.st_dev
                && mine.st_ino == target.st_ino) {
                fprintf(stderr, "isorun: %s is isorun-oci itself, not the isorun binary it hands commands to\n", self);
                exit(125);
            }
            execv(self, original_argv);
        }
    }
    fprintf(stderr, "isorun: exec %s: %s\n", length > 0 ? self : "isorun", strerror(errno));
    exit(125);
}

/* Appends `text` to `out` as the inside of a JSON string. */
static void json_escaped(char *out, size_t size, const char *text) {
    size_t used = strlen(out);
    for (; *text && used + 7 < size; text++) {
        unsigned char c = (unsigned char)*text;
        if (c == '"' || c == '\\') used += snprintf(out + used, size - used, "\\%c", c);
        else if (c < 0x20) used += snprintf(out + used, size - used, "\\u%04x", c);
        else out[used++] = (char)c, out[used] = 0;
    }
}

/* One line on stderr and, with --log, in the log file, as isorun words a failure. */
static _Noreturn void fail(const struct globals *g, const char *format, ...) {
    char message[1024];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, sizeof message, format, arguments);
    va_end(arguments);
    fprintf(stderr, "isorun: %s\n", message);
    if (g->log) {
        char stamp[32], line[3072] = "";
        time_t now = time(NULL);
        struct tm parts;
        gmtime_r(&now, &parts);
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &parts);
        if (g->log_format && strcmp(g->log_format, "json") == 0) {
            strcpy(line, "{\"level\":\"error\",\"msg\":\"");
            json_escaped(line, sizeof line - 64, message);
            snprintf(line + strlen(line), sizeof line - strlen(line), "\",\"time\":\"%s\"}\n", stamp);
        } else {
            snprintf(line, sizeof line, "%s error: %s\n", stamp, message);
        }
        int fd = open(g->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) {
            ssize_t ignored = write(fd, line, strlen(line));
            (void)ignored;
            close(fd);
        }
    }
    exit(125);
}

/* RuntimeRoot.isValidID. */
static int valid_id(const char *id) {
    size_t length = strlen(id);
    if (length == 0 || length > 128 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0) return 0;
    for (const char *c = id; *c; c++) {
        if (!((*c >= '0' && *c <= '9') || (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || *c == '-' ||
              *c == '.' || *c == '_'))
            return 0;
    }
    return 1;
}

/* The whole of a small file, NUL-terminated; its length, or -1. */
static ssize_t read_small_file(const char *path, char *buffer, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t used = 0;
    for (;;) {
        ssize_t got = read(fd, buffer + used, size - 1 - used);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        used += (size_t)got;
        if (used == size - 1) break;
    }
    close(fd);
    buffer[used] = 0;
    return (ssize_t)used;
}

/* The plan, or 0 when there is none or it is not whole (it ends with "end"). */
static int load_plan(const char *entry, struct plan *plan) {
    char path[PATH_MAX], text[MAX_CGROUPS * PATH_MAX / 4];
    snprintf(path, sizeof path, "%s" PLAN_FILE, entry);
    ssize_t length = read_small_file(path, text, sizeof text);
    if (length <= 0 || (size_t)length == sizeof text - 1) return 0;
    memset(plan, 0, sizeof *plan);
    int has_pid = 0, has_end = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "pid=", 4) == 0) {
            char *end;
            long pid = strtol(line + 4, &end, 10);
            if (*end != ' ' || pid <= 0) return 0;
            plan->pid = (pid_t)pid;
            plan->start_time = strtoull(end + 1, &end, 10);
            if (*end) return 0;
            has_pid = 1;
        } else if (strncmp(line, "cgroup=", 7) == 0) {
            if (plan->cgroup_count == MAX_CGROUPS || strlen(line + 7) >= PATH_MAX || line[7] != '/') return 0;
            strcpy(plan->cgroups[plan->cgroup_count++], line + 7);
        } else if (strcmp(line, "end") == 0) {
            has_end = 1;
        } else {
            return 0;
        }
    }
    return has_pid && has_end;
}

/* Processes.runningStartTime: the process still runs (not a zombie) and is the recorded one. */
static int still_running(const struct plan *plan) {
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", plan->pid);
    if (read_small_file(path, text, sizeof text) <= 0) return 0;
    char *closing = strrchr(text, ')');
    if (!closing || closing[1] != ' ') return 0;
    char *field = closing + 2; /* field 3, the state */
    if (*field == 'Z' || *field == 'X') return 0;
    for (int number = 3; number < 22; number++) {
        field = strchr(field, ' ');
        if (!field) return 0;
        field++;
    }
    return strtoull(field, NULL, 10) == plan->start_time;
}

/* Waits up to a second for the killed process to exit; 0 if it has not. */
static int wait_for_exit(const struct plan *plan) {
    int fd = (int)syscall(SYS_pidfd_open, plan->pid, 0);
    if (fd >= 0) {
        if (still_running(plan)) { /* the descriptor is of the recorded process */
            struct pollfd exited = {.fd = fd, .events = POLLIN};
            while (poll(&exited, 1, 1000) < 0 && errno == EINTR) {}
        }
        close(fd);
        return !still_running(plan);
    }
    for (int attempt = 0; attempt < 500 && still_running(plan); attempt++) usleep(2000);
    return !still_running(plan);
}

/* Whether a freezer holds the container (v1 freezer.state, v2 cgroup.freeze). Only a
 * directory of the freezer hierarchy (v1, added by `pause`) or the one v2 directory has
 * such a file. */
static int frozen(const struct plan *plan) {
    for (int index = 0; index < plan->cgroup_count; index++) {
        char path[PATH_MAX + 16], text[32];
        snprintf(path, sizeof path, "%s/freezer.state", plan->cgroups[index]);
        if (read_small_file(path, text, sizeof text) > 0 && strncmp(text, "THAWED", 6) != 0) return 1;
        snprintf(path, sizeof path, "%s/cgroup.freeze", plan->cgroups[index]);
        if (read_small_file(path, text, sizeof text) > 0 && text[0] != '0') return 1;
    }
    return 0;
}

/* CgroupFiles.removeIfEmpty: the cgroup, then the ancestors isorun made for it. */
static int remove_cgroup(const char *directory) {
    if (rmdir(directory) != 0 && errno != ENOENT) return 0;
    char current[PATH_MAX];
    strcpy(current, directory);
    for (char *slash; (slash = strrchr(current, '/')) && slash != current;) {
        *slash = 0;
        if (lgetxattr(current, MADE_MARK, NULL, 0) < 0 || rmdir(current) != 0) break;
    }
    return 1;
}

/* ContainerStore.start, for a container whose plan allows it. */
static int start(const struct globals *g, const char *entry, const char *id) {
    struct plan plan;
    if (!load_plan(entry, &plan) || !still_running(&plan)) hand_over();
    char gate[PATH_MAX];
    snprintf(gate, sizeof gate, "%s" GATE_FILE, entry);
    int fd = open(gate, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) hand_over();
    ssize_t written;
    do written = write(fd, "", 1); while (written < 0 && errno == EINTR);
    if (written != 1) {
        close(fd);
        hand_over();
    }
    /* Released: from here on a failure is this command's to report. As isorun's start
     * (ChildSetupError.afterStartGate): wait for the process's lock on the gate, which its
     * exec (or death) frees, then read what it reported into the gate, if anything. */
    while (flock(fd, LOCK_EX) < 0 && errno == EINTR) {}
    struct isorun_child_error report;
    ssize_t got = -1;
    int reader = open(gate, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (reader >= 0) {
        got = read(reader, &report, sizeof report);
        close(reader);
    }
    close(fd);
    if (unlink(gate) != 0 && errno != ENOENT) fail(g, "start %s: unlink %s: %s", id, gate, strerror(errno));
    if (got == 1) fail(g, "start %s: the container's process ended before it was started", id);
    if (got == (ssize_t)sizeof report) {
        report.what[sizeof report.what - 1] = 0;
        if (report.err) fail(g, "start %s: %s: %s", id, report.what, strerror(report.err));
        fail(g, "start %s: %s", id, report.what);
    }
    return 0;
}

/* ContainerStore.kill without --all, of a container that has not stopped, for a signal
 * given by number (as containerd's shim and podman give it; isorun reads names). */
static int signal_container(const char *entry, const char *signal_text) {
    char *end;
    long number = strtol(signal_text, &end, 10);
    if (*signal_text < '0' || *signal_text > '9' || *end || number < 1 || number > 64) hand_over();
    struct plan plan;
    if (!load_plan(entry, &plan) || !still_running(&plan)) hand_over();
    if (kill(plan.pid, (int)number) != 0) hand_over();
    return 0;
}

/* ContainerStore.delete of a created or stopped container, or with --force a running
 * one, whose plan allows it. */
static int delete(const struct globals *g, const char *entry, const char *id, int force) {
    struct plan plan;
    if (!load_plan(entry, &plan)) hand_over();
    char gate[PATH_MAX];
    snprintf(gate, sizeof gate, "%s" GATE_FILE, entry);
    if (still_running(&plan)) {
        /* A created one goes with or without --force, a running one only with it, and a
         * paused one is isorun's (it thaws the cgroup first). */
        int created = access(gate, F_OK) == 0;
        if (!created && (!force || frozen(&plan))) hand_over();
        kill(plan.pid, SIGKILL);
        if (!wait_for_exit(&plan)) hand_over();
    }
    for (int index = 0; index < plan.cgroup_count; index++) {
        if (!remove_cgroup(plan.cgroups[index])) hand_over();
    }
    /* The gate and the plan, then the record: once the record is gone the container is
     * (ContainerStore.files). The run's record goes last. */
    static const char *const files[] = {GATE_FILE, PLAN_FILE, RECORD_FILE, ""};
    for (size_t index = 0; index < sizeof files / sizeof *files; index++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s%s", entry, files[index]);
        if (unlink(path) == 0 || errno == ENOENT) continue;
        if (*files[index]) hand_over();  /* the record still names the container: isorun retries */
        fail(g, "delete %s: unlink %s: %s", id, path, strerror(errno));
    }
    return 0;
}

int main(int argc, char **argv) {
    original_argv = argv;
    struct globals g = {.root = "/run/isorun"};
    /* RuntimeRoot.defaultPath: rootless, the user's runtime directory. */
    static char rootless_root[256];
    if (geteuid() != 0) {
        const char *runtime = getenv("XDG_RUNTIME_DIR");
        int length = runtime && runtime[0] == '/'
            ? snprintf(rootless_root, sizeof rootless_root, "%s/isorun", runtime)
            : snprintf(rootless_root, sizeof rootless_root, "/run/user/%u/isorun", (unsigned)geteuid());
        /* Longer than that: isorun works it out and says what is wrong with it. */
        if (length < 0 || (size_t)length >= sizeof rootless_root) hand_over();
        g.root = rootless_root;
    }
    int index = 1;
    /* LeadingGlobals.split: value flags with a separate or `=` value, then plain flags. */
    static const char *const value_flags[] = {"--root", "--log", "--log-format", "--criu", "--rootless"};
    for (; index < argc; index++) {
        char name[64];
        const char *value = NULL;
        const char *equals = strchr(argv[index], '=');
        if (strncmp(argv[index], "--", 2) == 0 && equals && (size_t)(equals - argv[index]) < sizeof name) {
            memcpy(name, argv[index], (size_t)(equals - argv[index]));
            name[equals - argv[index]] = 0;
            value = equals + 1;
        } else {
            snprintf(name, sizeof name, "%s", argv[index]);
        }
        if (!value && strcmp(name, "--debug") == 0) { g.debug = 1; continue; }
        if (!value && strcmp(name, "--systemd-cgroup") == 0) continue;
        int known = 0;
        for (size_t flag = 0; flag < sizeof value_flags / sizeof *value_flags; flag++) known |= !strcmp(name, value_flags[flag]);
        if (!known) break;
        if (!value) {
            if (index + 1 >= argc) hand_over();
            value = argv[++index];
        }
        if (!strcmp(name, "--root")) g.root = value;
        else if (!strcmp(name, "--log")) g.log = value;
        else if (!strcmp(name, "--log-format")) g.log_format = value;
    }
    if (g.debug || index >= argc) hand_over();
    const char *command = argv[index++];
    int force = 0;
    if (strcmp(command, "delete") == 0 && index < argc && (!strcmp(argv[index], "--force") || !strcmp(argv[index], "-f"))) {
        force = 1;
        index++;
    }
    /* One valid id (for kill, and perhaps a signal) and nothing else; isorun says what is
     * wrong with anything else. */
    const char *signal_text = "15";
    int operands = argc - index;
    if (strcmp(command, "kill") == 0 && operands == 2) signal_text = argv[index + 1];
    else if (operands != 1) hand_over();
    if (!valid_id(argv[index])) hand_over();
    const char *id = argv[index];
    char entry[PATH_MAX];
    if ((size_t)snprintf(entry, sizeof entry, "%s/%s", g.root, id) >= sizeof entry - 32) hand_over();
    if (strcmp(command, "start") == 0) return start(&g, entry, id);
    if (strcmp(command, "delete") == 0) return delete(&g, entry, id, force);
    if (strcmp(command, "kill") == 0) return signal_container(entry, signal_text);
    hand_over();
}
