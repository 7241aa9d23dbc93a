// bpf(2) for cgroup v2's device control: load a BPF_PROG_TYPE_CGROUP_DEVICE program,
// attach it to a cgroup and detach the one it replaces. The program itself is built in
// Swift (IsorunCgroups/DeviceFilterProgram.swift); this only hands it to the kernel.
#include "isorun_shim.h"

#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long bpf(int command, union bpf_attr *attr) {
    return syscall(SYS_bpf, command, attr, sizeof *attr);
}

static int load(const void *instructions, int count, char *log, size_t log_size) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uint64_t)(uintptr_t)instructions;
    attr.insn_cnt = (uint32_t)count;
    attr.license = (uint64_t)(uintptr_t)"Apache-2.0";
    int fd = (int)bpf(BPF_PROG_LOAD, &attr);
    if (fd >= 0 || log == NULL || log_size == 0) return fd < 0 ? -errno : fd;
    // Rejected: load again with the verifier's log, for the error message.
    int saved = errno;
    log[0] = 0;
    attr.log_level = 1;
    attr.log_buf = (uint64_t)(uintptr_t)log;
    attr.log_size = (uint32_t)log_size;
    fd = (int)bpf(BPF_PROG_LOAD, &attr);
    if (fd >= 0) return fd;
    return -saved;
}

int isorun_attach_device_filter(int cgroup_fd, const void *instructions, int count, char *log, size_t log_size) {
    int program = load(instructions, count, log, log_size);
    if (program < 0) return program;

    // What this cgroup has attached now (an earlier `update`), to detach once the new
    // program is in place: the cgroup is never without a filter in between.
    uint32_t previous[64];
    union bpf_attr query;
    memset(&query, 0, sizeof query);
    query.query.target_fd = (uint32_t)cgroup_fd;
    query.query.attach_type = BPF_CGROUP_DEVICE;
    query.query.prog_ids = (uint64_t)(uintptr_t)previous;
    query.query.prog_cnt = sizeof previous / sizeof previous[0];
    uint32_t previous_count = bpf(BPF_PROG_QUERY, &query) == 0 ? query.query.prog_cnt : 0;

    // ALLOW_MULTI: programs of the ancestors (systemd's, a parent runtime's) still run.
    union bpf_attr attach;
    memset(&attach, 0, sizeof attach);
    attach.target_fd = (uint32_t)cgroup_fd;
    attach.attach_bpf_fd = (uint32_t)program;
    attach.attach_type = BPF_CGROUP_DEVICE;
    attach.attach_flags = BPF_F_ALLOW_MULTI;
    int rc = bpf(BPF_PROG_ATTACH, &attach) == 0 ? 0 : -errno;
    close(program);
    if (rc < 0) return rc;

    for (uint32_t i = 0; i < previous_count; i++) {
        union bpf_attr by_id;
        memset(&by_id, 0, sizeof by_id);
        by_id.prog_id = previous[i];
        int old = (int)bpf(BPF_PROG_GET_FD_BY_ID, &by_id);
        if (old < 0) continue;
        union bpf_attr detach;
        memset(&detach, 0, sizeof detach);
        detach.target_fd = (uint32_t)cgroup_fd;
        detach.attach_bpf_fd = (uint32_t)old;
        detach.attach_type = BPF_CGROUP_DEVICE;
        bpf(BPF_PROG_DETACH, &detach);
        close(old);
    }
    return 0;
}
