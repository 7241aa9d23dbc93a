// isorun's C shim: carries out a launch plan between clone() and execve().
//
// Swift cannot run safely in a forked child, so everything that happens there
// lives here. The plan is decided in Swift (IsorunSandbox / IsorunCore); this
// code only executes it, step by step, and reports the first failure back to
// the parent over a pipe. It decides nothing.
#ifndef ISORUN_SHIM_H
#define ISORUN_SHIM_H

#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <malloc.h> /* malloc_trim, for ResidentPages */
#include <sys/xattr.h> /* lsetxattr, lgetxattr: the cgroup directories isorun made */
#include "isorun_child_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/// What one entry of the mount plan does.
enum isorun_mount_kind {
    /// mount(source, target, fstype, flags, data), then an optional propagation change.
    ISORUN_MOUNT_FILESYSTEM = 0,
    /// A bind mount of a host path; `flags` carry MS_REC and the remount flags.
    ISORUN_MOUNT_BIND = 1,
    /// A symlink at `target` whose content is `source`.
    ISORUN_MOUNT_SYMLINK = 2,
    /// A device node (linux.devices): mknod with `device_mode` and `device_number`, then
    /// chown; where mknod is not allowed (a user namespace), a bind of `source`.
    ISORUN_MOUNT_DEVICE = 3,
};

/// One step of the container's mount plan. `target` is absolute inside the
/// container and is resolved under the rootfs without following symlinks out of it.
struct isorun_mount_op {
    int kind;
    const char *source;
    const char *target;
    const char *fstype;
    unsigned long flags;
    /// MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC), or 0.
    unsigned long propagation;
    const char *data;
    /// For binds: remount the bind with these extra flags (MS_RDONLY, MS_NOSUID, ...).
    unsigned long remount_flags;
    /// For binds: the source is not a directory, so the target is created as a file.
    int target_is_file;
    /// For devices: type and permission bits (S_IFCHR | 0666, ...), dev_t, owner.
    unsigned int device_mode;
    unsigned long long device_number;
    unsigned int device_uid;
    unsigned int device_gid;
    /// For devices: a different file already at the path is an error (a `linux.devices`
    /// entry); otherwise the host's node (`source`) is bound over it (a default device).
    int device_existing_must_match;
    /// For binds: a detached mount the parent prepared (an idmapped one) to attach instead
    /// of binding `source`; -1 for none.
    int source_fd;
    /// mount_setattr(2) with AT_RECURSIVE after the mount: MOUNT_ATTR_* bits to set and
    /// clear on it and every mount below it (both 0: none).
    uint64_t recursive_attr_set;
    uint64_t recursive_attr_clr;
    /// `tmpcopyup`: the directory the mount covers is copied into it.
    int copy_up;
};

struct isorun_rlimit {
    int resource;
    uint64_t soft;
    uint64_t hard;
};

/// A namespace to join with setns() in the child.
struct isorun_join {
    int fd;
    int nstype;
};

/// The whole launch plan. Pointers must stay valid until isorun_spawn_await returns 0 or -1.
/// An OCI hook the child runs itself, in the container's namespaces
/// (createContainer before pivot_root, startContainer just before exec).
struct isorun_hook {
    const char *path;
    /// argv including argv[0]; NULL: just the path.
    char *const *argv;
    char *const *envp;
    /// Seconds before the hook is killed and counted as failed; 0: no limit.
    int timeout_seconds;
};

struct isorun_spawn_plan {
    char *const *argv;
    char *const *envp;
    /// The PATH used to find argv[0] when it has no '/'.
    const char *search_path;
    const char *cwd;

    /// CLONE_NEW* flags for namespaces created by clone().
    int clone_flags;
    /// Unshare the cgroup namespace after the parent placed the child in its cgroup.
    int unshare_cgroup_ns;
    /// Unshare the IPC namespace after becoming root of the new user namespace.
    int unshare_ipc_ns;
    /// Unshare a time namespace, whose clocks the workload gets at execve.
    int unshare_time_ns;
    /// Lines for the new time namespace's /proc/self/timens_offsets; NULL: none.
    const char *time_offsets;
    /// personality(2) value set before the seccomp filter is loaded; -1: leave it.
    int personality;
    const struct isorun_join *joins;
    int join_count;

    /// NULL: keep the host filesystem (bare mode).
    const char *rootfs;
    /// The mount point the rootfs lies on (made private for a shared propagation).
    const char *rootfs_parent_mount;
    /// The config asks for no mount namespace: the mounts land under the rootfs on the
    /// host (isorun removes them afterwards), `/` keeps its propagation, and the
    /// process enters the rootfs with chroot, since pivot_root would move the host's root.
    int rootfs_in_host_namespace;
    /// Enter the rootfs by moving it onto / and chroot (runc's --no-pivot), after
    /// detaching every other mount, for a root pivot_root refuses (an initramfs).
    int no_pivot_root;
    /// The name of a new session keyring the child joins (NULL: it keeps its caller's),
    /// so that a workload whose seccomp rules allow keyctl cannot read or change the keys
    /// of whoever started isorun (runc does the same unless --no-new-keyring).
    const char *session_keyring;
    unsigned long rootfs_propagation;
    /// With a rootfs, resolved inside it; without one (and with CLONE_NEWNS), binds of host
    /// paths onto host paths in the child's own mount namespace.
    const struct isorun_mount_op *mounts;
    int mount_count;
    const char *const *sysctl_paths;
    const char *const *sysctl_values;
    int sysctl_count;
    const char *const *masked_paths;
    int masked_count;
    const char *const *readonly_paths;
    int readonly_count;
    int readonly_root;
    const char *hostname;
    const char *domainname;
    int bring_up_loopback;

    int set_user;
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    int group_count;
    /// setgroups(2) is denied in the child's user namespace: leave the groups as they are.
    int keep_groups;
    int set_umask;
    mode_t umask;

    const struct isorun_rlimit *rlimits;
    int rlimit_count;

    /// Capabilities: when set, bounding is reduced to `bounding_mask`, `caps` is
    /// applied with cap_set_proc and `ambient_mask` raised.
    int set_caps;
    uint64_t bounding_mask;
    uint64_t ambient_mask;
    cap_t caps;
    int no_new_privs;
    /// A compiled filter (see isorun_seccomp_export), or NULL.
    const struct sock_fprog *seccomp;
    /// seccomp(2) flags for loading it (SECCOMP_FILTER_FLAG_LOG, ...).
    unsigned int seccomp_flags;
    /// The filter has SCMP_ACT_NOTIFY rules: it is loaded with a notification listener,
    /// whose descriptor the child passes to isorun at once, and isorun to the agent
    /// (isorun_spawn_await returns ISORUN_SECCOMP_LISTENER_READY). Never run at once.
    int seccomp_listener;

    /// Signal sent to the workload if isorun dies before it (0: none).
    int parent_death_signal;
    /// Written to the child's own /proc/self/oom_score_adj first thing, while it still
    /// has the privilege to lower it (a child in a new user namespace has not: its parent
    /// writes that one).
    int set_oom_score_adj;
    int oom_score_adj;
    /// `process.scheduler`, given to sched_setattr(2) once the child's setup is done and
    /// before its capabilities change (a real-time policy or a lower nice needs
    /// CAP_SYS_NICE). set_scheduler 0: leave the inherited one.
    int set_scheduler;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
    /// `process.ioPriority` as ioprio_set(2) takes it, set for the child itself at the same
    /// point: every process of the container descends from it and inherits it. -1: leave it.
    int io_priority;
    /// `linux.memoryPolicy` as set_mempolicy(2) takes it, set for the child itself at the
    /// same point, before a seccomp filter that would refuse the call: the mode with its
    /// flags, and a node mask of memory_policy_node_bits bits (NULL: no nodes).
    /// set_memory_policy 0: leave the inherited policy.
    int set_memory_policy;
    int memory_policy_mode;
    const unsigned long *memory_policy_nodes;
    unsigned long memory_policy_node_bits;
    /// `process.execCPUAffinity`, as CPU numbers: the child runs on `initial_cpus` from its
    /// release until it has joined its cgroups (the cgroup_task_fds below; a child created
    /// in its cgroup has joined at birth), and on `final_cpus` from then on. Counts of 0:
    /// no change at that point, except that with initial CPUs and no final ones the child
    /// goes back to the affinity it had before the initial ones.
    const int *initial_cpus;
    int initial_cpu_count;
    const int *final_cpus;
    int final_cpu_count;
    /// Start a new session (setsid), so that the terminal's Ctrl-C reaches only isorun,
    /// which decides what to forward (a VMM must not die of it).
    int new_session;
    /// A pseudo-terminal's replica side: the child starts a session, makes it its
    /// controlling terminal and uses it as stdin, stdout and stderr (-1: none).
    int terminal_fd;
    /// Point stdin, stdout and stderr at /dev/null (a benchmark's timed commands).
    int null_stdio;
    /// With null_stdio: a descriptor to use as stdout instead (-1: none).
    int stdout_fd;
    /// With stdout_fd: stderr goes there too.
    int stderr_to_stdout;
    /// With null_stdio: a descriptor to use as stderr instead (-1: none).
    int stderr_fd;

    /// `isorun create`: a descriptor of a FIFO (opened read-write by the parent, so
    /// nobody blocks) that the child reads one byte from just before exec, so that
    /// `isorun start` decides when the user process begins. The child closes the error
    /// pipe on reaching it: the parent learns that setup succeeded without waiting for
    /// exec. The child holds a flock(2) on it until exec (it is close-on-exec) and reports
    /// a failure after the gate into it, so `start` can wait for the exec and tell its
    /// outcome. -1: no gate.
    int start_gate_fd;
    /// Descriptors 3 .. 3+preserved_fds-1, which isorun's caller passed (runc's
    /// --preserve-fds: sockets of systemd socket activation, for one), reach the workload
    /// open and without close-on-exec; every other inherited one is closed on exec.
    int preserved_fds;
    /// isorun's own descriptors that the program keeps under the same numbers (a VM's tap
    /// devices, which QEMU is told about as `fd=N`); everything else stays close-on-exec.
    const int *kept_fds;
    int kept_fd_count;

    /// Stop before pivot_root (before exec without a rootfs) and report that to the
    /// parent, which runs the runtime-namespace hooks (prestart, createRuntime) while the
    /// container's namespaces exist, then lets the child go on with isorun_spawn_resume.
    int hook_barrier;
    /// Hooks the child runs; each reads a state document that the parent sends with
    /// the release (see isorun_spawn_let_go).
    const struct isorun_hook *create_container_hooks;
    int create_container_hook_count;
    const struct isorun_hook *start_container_hooks;
    int start_container_hook_count;
    /// The program to exec when it is not argv[0] (a hook's path); NULL: argv[0].
    const char *executable;
    /// stdin from this descriptor; -1: inherited.
    int stdin_fd;

    /// A cgroup v2 directory (fd) to create the child in with clone3(CLONE_INTO_CGROUP),
    /// which spares the parent a migration; -1 for none.
    int cgroup_fd;
    /// cgroup v1 `tasks` files, opened by the parent (their paths alongside, for errors),
    /// that the child writes "0" into as soon as it is released: a single thread moving
    /// itself skips the kernel's threadgroup lock, whose first writer after an idle spell
    /// waits for an RCU grace period (the parent writing the pid to cgroup.procs: ~7 ms).
    const int *cgroup_task_fds;
    const char *const *cgroup_task_paths;
    int cgroup_task_count;
    /// Instead (cgroup v1, run by root): the cgroups made by the network namespace's
    /// helper, which isorun sent the job (isorun_cgroup_job_send) before clone and which
    /// makes them while the child sets up. The child reads its answer on
    /// `cgroup_job_socket` and joins the cgroups (and only then unshares its cgroup
    /// namespace) just before mount number `cgroup_join_before_mount`, or before
    /// pivot_root. `cgroup_job_steps` says what each step did, for errors; a count of 0:
    /// no job. `cgroup_job_helper` and the child are kept on different CPUs.
    int cgroup_job_socket;
    pid_t cgroup_job_helper;
    const char *const *cgroup_job_steps;
    int cgroup_job_step_count;
    int cgroup_join_before_mount;

    /// The parent has nothing to do between clone and the child's setup (no ID maps, no
    /// cgroup move, no hooks, no start gate): the child runs its plan at once, cloned
    /// vfork-style on a stack of its own while the parent sleeps until it execs or fails.
    /// Spares copying the parent's page tables and the copy-on-write faults that follow.
    /// isorun_spawn_await then only collects the outcome. Falls back to the waiting
    /// child where clone3 or this architecture cannot do it.
    int run_at_once;
};

/// A network namespace being made by a helper process (network_namespace.c).
struct isorun_network_namespace {
    /// The helper, until released; 0 when there is none.
    pid_t pid;
    /// isorun's end of the socket the helper reports on, until the report is read.
    int socket;
    /// The namespace's descriptor once reported, or -errno.
    int result;
};

/// Brings up `lo` in the caller's network namespace; 0 or -errno.
int isorun_loopback_up(void);
/// Starts the helper: unshare(CLONE_NEWNET), `lo` up, its namespace's descriptor sent back.
/// 0 or -errno.
int isorun_network_namespace_start(struct isorun_network_namespace *ns);
/// Waits for the helper's report; the namespace's descriptor (O_CLOEXEC) or -errno.
/// The socket stays open: the helper waits on it for a cgroup job
/// (isorun_cgroup_job_send) until isorun dismisses it.
int isorun_network_namespace_finish(struct isorun_network_namespace *ns);
/// A cgroup job's step kinds (cgroup_job.h has the layout) and what the helper takes.
enum {
    ISORUN_CGROUP_STEP_MKDIR = 'd',       // mkdir 0755; one that exists is fine
    ISORUN_CGROUP_STEP_WRITE = 'w',       // each value written through one open
    ISORUN_CGROUP_STEP_OPEN_TASKS = 't',  // opened for writing and passed back
    ISORUN_CGROUP_JOB_MAX_TASK_FILES = 16,
    /// The longest job isorun sends (the helper reads up to 64 KiB).
    ISORUN_CGROUP_JOB_MAX_BYTES = 60 * 1024,
};
/// Sends the helper a cgroup job (the bytes of IsorunSys' CgroupJob): 0 or -errno.
int isorun_cgroup_job_send(int sock, const void *job, size_t length);
/// Closes isorun's end of the socket: a helper with no job exits.
void isorun_network_namespace_dismiss(struct isorun_network_namespace *ns);
/// Dismisses the helper and reaps it.
void isorun_network_namespace_release(struct isorun_network_namespace *ns);
/// Whether this command line will ask for a network namespace's head start: a guess from
/// argv (early_network_namespace.c), exported for its unit test.
int isorun_network_namespace_expected(int argc, char *const argv[]);
/// Moves the helper a constructor started for this process into `ns`: 0, or -1 when
/// there is none (the guess said no, the start failed, or it was taken already).
int isorun_early_network_namespace_take(struct isorun_network_namespace *ns);

/// An interface of a network namespace that a VM takes over (network_mirror.c).
struct isorun_interface {
    char name[16];
    int index;
    int mtu;
    unsigned char mac[6];
    /// The primary IPv4 address and its prefix length; network byte order; 0: none.
    uint32_t address;
    int prefix;
};

/// An IPv4 route of the main table; addresses in network byte order, gateway 0 for a
/// route to the link itself.
struct isorun_route {
    uint32_t destination;
    int prefix;
    uint32_t gateway;
    char device[16];
};

/// A global or link-local IPv6 address of an interface, or an IPv6 route (`prefix` bits of
/// `address`, through `gateway`, all zero for a route to the link), on `device`.
struct isorun_ipv6_entry {
    unsigned char address[16];
    int prefix;
    unsigned char gateway[16];
    char device[16];
};

/// The namespace's global and link-local IPv6 addresses and its IPv6 routes through a gateway or to a
/// prefix, neither link-local nor multicast nor local (at most `max` of each). 0, or -errno.
int isorun_netns_ipv6(int netns_fd, struct isorun_ipv6_entry *addresses, int max, int *address_count,
                      struct isorun_ipv6_entry *routes, int *route_count);

/// The Ethernet interfaces of the namespace `netns_fd` that are up (loopback excluded),
/// at most `max` of them, with their IPv4 address if any, and its IPv4 routes as the kernel
/// lists them (at most `max_routes`, their number in `*route_count`). The interfaces'
/// count, or -errno.
int isorun_netns_interfaces(int netns_fd, struct isorun_interface *out, int max,
                            struct isorun_route *routes, int max_routes, int *route_count);
/// In the namespace `netns_fd`: makes a tap device (named by the kernel after "isotap%d"),
/// gives it `mtu`, brings it up, and joins it to the interface `index` with an ingress
/// qdisc on each whose filter redirects every frame to the other. Returns the tap's
/// descriptor (close-on-exec; the tap goes when the last descriptor closes) or -errno,
/// with `*step` naming what failed.
int isorun_netns_mirror(int netns_fd, int index, int mtu, const char **step);
/// Removes the ingress qdisc (and so the redirect) from the interface `name` of the
/// namespace `netns_fd`; 0, or -errno (-ENODEV, -EINVAL: nothing to remove).
int isorun_netns_unmirror(int netns_fd, const char *name);

/// A permanent address of a network device, read before the device changes namespace
/// (the kernel drops a device's addresses when it moves it) and added again after.
struct isorun_netdev_address {
    int family;   // AF_INET or AF_INET6
    int prefix;
    int scope;
    /// The device's own address, and on a point-to-point link its peer's (`has_peer`).
    unsigned char local[16];
    unsigned char peer[16];
    int has_peer;
};

/// The permanent addresses of the device `name` in the namespace `netns_fd` (-1: the
/// calling thread's), IPv6 link-local ones left out: at most `max`. Their count, or -errno
/// (-ENODEV: no such device) (network_devices.c).
int isorun_netdev_addresses(int netns_fd, const char *name, struct isorun_netdev_address *out, int max);
/// The current name of the device `index` in the namespace `netns_fd` into `name`: 0, or
/// -errno (-ENODEV: none).
int isorun_netdev_name(int netns_fd, int index, char name[16]);
/// Sets the device `name` of the namespace `from_netns_fd` (-1: the calling thread's)
/// down and moves it into the namespace `to_netns_fd` as `new_name`, in one request.
/// 0, or -errno with `*step` naming what failed.
int isorun_netdev_move(int from_netns_fd, const char *name, int to_netns_fd, const char *new_name, const char **step);
/// In the namespace `netns_fd` (-1: the calling thread's): adds `addresses` to the device
/// `name` (replacing equal ones) and, with `up`, sets it up. The device's index (which
/// survives renames inside its namespace), or -errno with `*step`.
int isorun_netdev_configure(int netns_fd, const char *name, const struct isorun_netdev_address *addresses, int count,
                            int up, const char **step);

struct isorun_spawn_handle {
    pid_t pid;
    int sync_fd;   // parent's write end: one byte releases the child
    int error_fd;  // parent's read end: EOF means execve succeeded
    int born_in_cgroup;  // clone3 placed the child in plan->cgroup_fd's cgroup
    int ran_at_once;     // the plan's run_at_once was honoured: the child is done with it
    int listener_socket; // parent's end of the socket the child passes its seccomp listener over; -1: none
    int seccomp_notify_fd; // the listener, once received (ISORUN_SECCOMP_LISTENER_READY); the caller closes it
    int listener_received; // the child waits until the next isorun_spawn_await says the agent has it
};

/// Clones the child, which waits until isorun_spawn_let_go (or, run at once, has exec'd
/// or failed by the time this returns). Returns the pid or -errno.
pid_t isorun_spawn_start(const struct isorun_spawn_plan *plan, struct isorun_spawn_handle *handle);

/// The `err` of a report that is not a failure: the child reached its hook barrier.
#define ISORUN_AT_HOOK_BARRIER (-1)

/// isorun_spawn_await's answer when the child has loaded a filter with a listener:
/// handle->seccomp_notify_fd holds it. The child waits: hand the descriptor to the agent
/// and await again, which lets it go on (or abort the child when the agent is not there).
#define ISORUN_SECCOMP_LISTENER_READY 2

/// Lets the child run its plan (a child run at once already has): 0, or -1 with `error`
/// filled when the child is gone. `hook_states` (may be empty) is what the child's hooks
/// read: when the plan has createContainer or startContainer hooks, two documents, each a
/// native-endian uint32 length followed by that many bytes. The parent may do work of its
/// own before isorun_spawn_await, while the child sets itself up.
int isorun_spawn_let_go(struct isorun_spawn_handle *handle, struct isorun_child_error *error,
                        const void *hook_states, size_t hook_states_length);
/// Waits until the child has exec'd or reached its start gate (returns 0), stopped at its
/// hook barrier (returns 1; continue with isorun_spawn_resume), passed its seccomp
/// listener (returns ISORUN_SECCOMP_LISTENER_READY), or failed (returns -1 and fills
/// `error`; the child has exited and must still be reaped).
int isorun_spawn_await(struct isorun_spawn_handle *handle, struct isorun_child_error *error);

/// Lets a child stopped at its hook barrier go on; returns as isorun_spawn_await
/// (never 1).
int isorun_spawn_resume(struct isorun_spawn_handle *handle, struct isorun_child_error *error);

/// Kills a child that was started but will not be released, and reaps it.
void isorun_spawn_abort(struct isorun_spawn_handle *handle);

/// Installs handlers for `signals` that write each received signal number as one
/// byte to a pipe; returns the pipe's read end (non-blocking, close-on-exec) or -errno.
int isorun_signal_pipe_install(const int *signals, int count);

/// Restores the default disposition of `signals`.
void isorun_signal_pipe_uninstall(const int *signals, int count);

/// Exports the filter in `ctx` as BPF; the caller frees `prog->filter` with free().
int isorun_seccomp_export(scmp_filter_ctx ctx, struct sock_fprog *prog);

/// The SWIFT_BACKTRACE value the Swift runtime is started with (see runtime_settings.c):
/// backtracing off, with a helper path so that the runtime does not search for one, for a
/// statically linked isorun whose caller set none; otherwise NULL (nothing is set).
const char *isorun_runtime_backtrace_setting(int statically_linked, const char *callers_setting);

/// Takes back the SWIFT_BACKTRACE set for the runtime's start, if one was.
void isorun_runtime_settings_restore(void);

/// 1 if this kernel runs x32 system calls (x86_64 built with CONFIG_X86_X32_ABI), else 0.
int isorun_kernel_runs_x32(void);

/// pidfd_open(2) and pidfd_send_signal(2), which glibc 2.36 wraps only in newer headers.
int isorun_pidfd_open(pid_t pid);
int isorun_pidfd_send_signal(int pidfd, int sig);

/// prctl(PR_SET_CHILD_SUBREAPER): orphaned descendants are re-parented to us.
int isorun_become_subreaper(void);

/// statfs(2) f_type of `path`, or -errno.
long isorun_filesystem_magic(const char *path);

/// Opens a new pseudo-terminal pair (master from /dev/ptmx, unlocked) with the given
/// size (0: leave it); fills the replica's path. With `root`, the multiplexer is the
/// one at dev/ptmx beneath that directory (a container's own devpts, seen through
/// /proc/<pid>/root), or -ENXIO when that is not a multiplexer. Returns the master or -errno.
int isorun_open_pty(const char *root, unsigned short rows, unsigned short columns, int *replica, char *replica_path,
                    size_t path_size);
/// A terminal's window size (TIOCGWINSZ); 0 or -errno.
int isorun_window_size(int fd, unsigned short *rows, unsigned short *columns);

/// Sends `fd` over the connected UNIX socket `socket` (SCM_RIGHTS) with `name` as the
/// message, as runc does for --console-socket. Returns 0 or -errno.
int isorun_send_fd(int socket, int fd, const char *name);

/// memfd_create(2) with MFD_CLOEXEC, or -errno (glibc declares it only under _GNU_SOURCE).
int isorun_memfd_create(const char *name);

/// One private file mapping, [start, end), for isorun_release_file_pages_and_wait.
struct isorun_page_range {
    uintptr_t start;
    uintptr_t end;
};

struct pollfd;

/// MADV_DONTNEED over the pages of each private file mapping in `ranges` that
/// /proc/self/pagemap (`pagemap_fd`) shows are unmodified file pages or unbacked (private
/// copies stay), then ppoll(2) on `fds` without a timeout (EINTR retried), executing
/// nothing of the binary in between but one page of its own: a waiting supervisor's
/// resident set stays as small as the drop made it, even where the kernel maps a large
/// folio whole on a fault. Returns ppoll's count or -errno; `*dropped` gets the number of
/// pages the dropped runs spanned, or -1 when nothing was dropped or waited for.
long isorun_release_file_pages_and_wait(int pagemap_fd, const struct isorun_page_range *ranges, int count,
                                        struct pollfd *fds, unsigned nfds, long *dropped);

/// Loads `count` BPF instructions (8 bytes each) as a cgroup device program and
/// attaches it to the cgroup v2 directory `cgroup_fd` (BPF_F_ALLOW_MULTI), then detaches
/// the device programs attached there before. Returns 0 or -errno; when the verifier
/// rejects the program, its log is left in `log`.
int isorun_attach_device_filter(int cgroup_fd, const void *instructions, int count, char *log, size_t log_size);

/// setns(2) in the calling thread, or -errno (used to join a PID namespace before clone).
int isorun_setns(int fd, int nstype);

/// For an idmapped bind mount: a detached copy of the mount at `source` (with its submounts
/// when `recursive_bind`) whose owners are shown through a new user namespace with these
/// uid_map/gid_map lines (on every submount too when `recursive_idmap`). Returns its fd, or
/// -1 with errno set and `*failed` naming the step.
int isorun_idmapped_tree(const char *source, const char *uid_map, const char *gid_map, int recursive_bind,
                         int recursive_idmap, const char **failed);

#ifdef __cplusplus
}
#endif

#endif
