// isorun-init's view of the C library. isorun-init is built as Embedded Swift (no
// runtime metadata, no Glibc overlay), so the libc declarations it calls come in
// through this header, with the few calls and macros Swift cannot import as they are.
#ifndef ISORUN_GUEST_H
#define ISORUN_GUEST_H
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
// tmpcopyup's tree copy, the sandbox's own (CIsorunShim/copy_up.c, linked here too).
#include "../copy_up.h"

/// errno is a macro over a function call, which Swift does not import.
static inline int isorun_guest_errno(void) { return errno; }
/// open(2) without creating: Swift does not import variadic C functions.
static inline int isorun_guest_open(const char *path, int flags) { return open(path, flags); }

/// Syncs and restarts the machine. isorun always starts QEMU with -no-reboot,
/// so a restart ends QEMU; unlike power-off it needs no ACPI in the guest
/// kernel (without a power-off driver the kernel would only halt).
/// Returns only if the kernel refused.
void isorun_guest_restart(void);

/// Writes `status` to QEMU's isa-debug-exit port (0xf4), which ends QEMU with
/// (status << 1) | 1: a last resort when restarting failed.
/// Returns if the port cannot be reached (no such device, or no ioperm).
void isorun_guest_debug_exit(unsigned char status);

/// Brings the loopback interface up (the kernel starts it down): services in the
/// guest listen on 127.0.0.1. Returns 0, or -1 with errno set.
int isorun_guest_loopback_up(void);
/// Gives the device whose MAC is `mac` the container interface's name, MTU and IPv4
/// address (`address` most significant byte first), and brings it up. 0, or -1 with
/// errno and `*step` naming what failed (network.c).
int isorun_guest_configure_interface(const unsigned char mac[6], const char *name, int mtu, uint32_t address,
                                     int prefix_length, const char **step);
/// Adds the route to `destination`/`prefix_length` on `device`, through `gateway` (0: on
/// the link); addresses most significant byte first. One the kernel has already (an
/// address's own subnet) is not an error.
int isorun_guest_add_route(uint32_t destination, int prefix_length, uint32_t gateway, const char *device);
/// Gives init a new time namespace for its children (the workload, hooks, `exec`s) with
/// `offsets` written to /proc/self/timens_offsets first ("" for none). 0, or -1 with errno.
int isorun_guest_unshare_time(const char *offsets);
/// Adds an IPv6 address to `device`, without duplicate address detection (the namespace
/// the host took it from has it already); one the device has already is no error. 0, or
/// -1 with errno.
int isorun_guest_add_address6(const char *device, const unsigned char address[16], int prefix_length);
/// Adds an IPv6 route through `gateway` (all zeros: on the link); an existing one is no error.
int isorun_guest_add_route6(const unsigned char destination[16], int prefix_length, const unsigned char gateway[16],
                            const char *device);

/// pidfd_open(2), which glibc 2.36 declares but Swift's Glibc module does not show.
/// Returns a descriptor that polls readable when `pid` exits, or -1.
int isorun_guest_pidfd_open(pid_t pid);
/// A new pseudo-terminal on the guest's devpts (/dev/pts, newinstance), of the given size
/// (0: the default): the master, with the replica in *replica; -1 and errno on failure.
int isorun_guest_open_pty(unsigned short rows, unsigned short columns, int *replica);
/// Resizes a pseudo-terminal (the kernel then sends SIGWINCH to its foreground group).
void isorun_guest_set_window_size(int master, unsigned short rows, unsigned short columns);
/// pipe2 with O_CLOEXEC (Swift's Glibc module lacks pipe2). 0, or -1 with errno set.
int isorun_guest_pipe(int fds[2]);
/// O_NONBLOCK on `fd` (fcntl is variadic, which Swift does not import). 0, or -1 with errno set.
int isorun_guest_set_nonblocking(int fd);
/// A close-on-exec memory file holding `length` bytes, read from its start; -1 and errno on failure.
int isorun_guest_memory_file(const void *contents, size_t length);

/// Loads a kernel module from a file (finit_module). Returns 0, or -1 with errno set;
/// EEXIST (already loaded or built in) counts as success.
int isorun_guest_load_module(const char *path);

/// A bind mount of `source` (a host share's entry) at `target`, whose missing parents are
/// made (and `target` too: a directory, or an empty file when `target_is_file`), then
/// remounted with `flags` (MS_RDONLY, MS_NOSUID, ...) unless 0. Returns 0, or -1 with
/// errno set and *failed_step naming the step.
int isorun_guest_bind(const char *source, const char *target, int target_is_file, unsigned long flags,
                      const char **failed_step);
/// The workload as isorun-init starts it; every pointer stays valid during the call.
struct isorun_guest_process {
    char *const *argv;
    char *const *envp;
    /// Paths to try with execve, in order (PATH already searched by the caller).
    char *const *candidates;
    int candidate_count;
    const char *cwd;
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    int group_count;
    const int *rlimit_resources;
    const struct rlimit *rlimits;
    int rlimit_count;
    int stdin_fd, stdout_fd, stderr_fd;
    /// Capability sets as bit masks, applied when set_caps: the bounding set is reduced
    /// while still root, the others are set after the user change, ambient ones last.
    int set_caps;
    uint64_t cap_effective, cap_permitted, cap_inheritable, cap_bounding, cap_ambient;
    int no_new_privs;
    /// A seccomp filter of seccomp_instruction_count BPF instructions (NULL: none). With
    /// no_new_privs it is loaded last, just before exec; without, loading needs
    /// CAP_SYS_ADMIN, so it is loaded first, before capabilities are dropped.
    const void *seccomp_program;
    int seccomp_instruction_count;
    /// seccomp(2) flags for it (SECCOMP_FILTER_FLAG_LOG, ...), from the profile.
    unsigned int seccomp_flags;
    /// `process.scheduler` for sched_setattr(2) when set_scheduler; set, like the I/O
    /// priority (-1: none) and the OOM score (as the text to write; NULL: none), after the
    /// limits and before the privileges go.
    int set_scheduler;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
    int io_priority;
    const char *oom_score_adj;
    /// `process.user.umask`; -1: inherited (init's).
    int umask;
};

/// Which step of isorun_guest_spawn failed.
enum isorun_guest_step {
    ISORUN_GUEST_STEP_CREDENTIALS = 1, ISORUN_GUEST_STEP_CHDIR = 2, ISORUN_GUEST_STEP_EXEC = 3,
    ISORUN_GUEST_STEP_CAPABILITIES = 4, ISORUN_GUEST_STEP_NO_NEW_PRIVS = 5, ISORUN_GUEST_STEP_SECCOMP = 6,
    ISORUN_GUEST_STEP_SCHEDULER = 7, ISORUN_GUEST_STEP_IO_PRIORITY = 8, ISORUN_GUEST_STEP_OOM_SCORE = 9,
};

/// Starts the workload with vfork: no page tables are copied, which under TCG is
/// most of what fork costs. The child only makes system calls until exec. Returns
/// the pid, or -1 with *step and *err telling what failed (the child is reaped).
pid_t isorun_guest_spawn(const struct isorun_guest_process *process, int *step, int *err);

#endif
