// The container's rootfs made ahead by the network namespace's helper (network_namespace.c).
//
// The helper has made the network namespace by the time isorun has read the bundle, and
// then idles on the other CPU. Asked (isorun_network_namespace_request_rootfs), it makes
// a mount namespace and in it the rootfs: every mount that needs none of the container's
// own namespaces, pivot_root, masked and read-only paths outside them. Meanwhile isorun
// loads the seccomp filter, records the run, makes the cgroups and clones the container's
// process, which used to make all of the rootfs after that. The process receives the mount
// namespace from the helper itself, joins it and takes only the rest (proc, mqueue, the
// cgroup view, /proc's masked and read-only paths, a read-only root): see
// join_rootfs_made_ahead and finish_rootfs in spawn.c.
//
// The plan crosses as one message, its strings packed after fixed-size records. The helper
// is a copy of isorun from before the Swift runtime (or, started late, of a process that
// may have had threads): it only makes system calls.
#include "isorun_shim.h"
#include "fd_passing.h"
#include "rootfs_ahead.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/// Larger plans are made by the container's process, as without a helper.
enum { PACKED_PLAN_LIMIT = 256 * 1024 };

/// Strings are offsets into the message's string area; -1 is NULL.
struct packed_plan {
    uint32_t magic;
    int32_t rootfs, rootfs_parent_mount;
    uint64_t rootfs_propagation;
    int32_t clone_flags;
    int32_t mount_count, masked_count, readonly_count;
};

struct packed_mount {
    int32_t kind, source, target, fstype, data, target_is_file, device_existing_must_match;
    uint32_t device_mode, device_uid, device_gid;
    uint64_t flags, propagation, remount_flags, device_number, recursive_attr_set, recursive_attr_clr;
};

#define PACKED_PLAN_MAGIC 0x69726f6fu

struct packer {
    char *buffer;
    size_t length, capacity;
    size_t strings;  // where the string area starts
};

static int32_t pack_string(struct packer *p, const char *value) {
    if (value == NULL) return -1;
    size_t size = strlen(value) + 1;
    if (p->length + size > p->capacity) return -2;
    memcpy(p->buffer + p->length, value, size);
    int32_t offset = (int32_t)(p->length - p->strings);
    p->length += size;
    return offset;
}

/// The plan's rootfs part as one message in `p` (malloc'd); 0, or -1 when it does not fit.
static int pack(const struct isorun_spawn_plan *plan, struct packer *p) {
    size_t fixed = sizeof(struct packed_plan) + (size_t)plan->mount_count * sizeof(struct packed_mount) +
                   (size_t)(plan->masked_count + plan->readonly_count) * sizeof(int32_t);
    p->capacity = PACKED_PLAN_LIMIT;
    if (fixed > p->capacity) return -1;
    p->buffer = malloc(p->capacity);
    if (p->buffer == NULL) return -1;
    p->strings = p->length = fixed;
    struct packed_plan header = {
        PACKED_PLAN_MAGIC, pack_string(p, plan->rootfs), pack_string(p, plan->rootfs_parent_mount),
        plan->rootfs_propagation, plan->clone_flags, plan->mount_count, plan->masked_count, plan->readonly_count,
    };
    int overflow = header.rootfs == -2 || header.rootfs_parent_mount == -2;
    memcpy(p->buffer, &header, sizeof header);
    char *cursor = p->buffer + sizeof header;
    for (int i = 0; i < plan->mount_count; i++) {
        const struct isorun_mount_op *op = &plan->mounts[i];
        struct packed_mount m = {
            op->kind, pack_string(p, op->source), pack_string(p, op->target), pack_string(p, op->fstype),
            pack_string(p, op->data), op->target_is_file, op->device_existing_must_match,
            op->device_mode, op->device_uid, op->device_gid,
            op->flags, op->propagation, op->remount_flags, op->device_number, op->recursive_attr_set,
            op->recursive_attr_clr,
        };
        overflow |= m.source == -2 || m.target == -2 || m.fstype == -2 || m.data == -2;
        memcpy(cursor, &m, sizeof m);
        cursor += sizeof m;
    }
    for (int i = 0; i < plan->masked_count + plan->readonly_count; i++) {
        const char *path = i < plan->masked_count ? plan->masked_paths[i] : plan->readonly_paths[i - plan->masked_count];
        int32_t offset = pack_string(p, path);
        overflow |= offset == -2;
        memcpy(cursor, &offset, sizeof offset);
        cursor += sizeof offset;
    }
    if (overflow) {
        free(p->buffer);
        return -1;
    }
    return 0;
}

/// The string at `offset` of a received message, or NULL; a bad offset makes the plan bad.
static const char *unpack_string(const char *strings, size_t size, int32_t offset, int *bad) {
    if (offset == -1) return NULL;
    if (offset < 0 || (size_t)offset >= size || memchr(strings + offset, '\0', size - (size_t)offset) == NULL) {
        *bad = 1;
        return NULL;
    }
    return strings + offset;
}

/// The message in `message` (`length` bytes) as a plan, with its arrays in `space`;
/// 0, or -1 when it is not one.
static int unpack(const char *message, size_t length, char *space, size_t space_size, struct isorun_spawn_plan *plan) {
    struct packed_plan header;
    if (length < sizeof header) return -1;
    memcpy(&header, message, sizeof header);
    if (header.magic != PACKED_PLAN_MAGIC || header.mount_count < 0 || header.masked_count < 0 ||
        header.readonly_count < 0)
        return -1;
    size_t paths = (size_t)header.masked_count + (size_t)header.readonly_count;
    size_t fixed = sizeof header + (size_t)header.mount_count * sizeof(struct packed_mount) + paths * sizeof(int32_t);
    size_t needed = (size_t)header.mount_count * sizeof(struct isorun_mount_op) + paths * sizeof(char *);
    if (fixed > length || needed > space_size) return -1;
    const char *strings = message + fixed;
    size_t strings_size = length - fixed;
    int bad = 0;
    memset(plan, 0, sizeof *plan);
    plan->rootfs = unpack_string(strings, strings_size, header.rootfs, &bad);
    plan->rootfs_parent_mount = unpack_string(strings, strings_size, header.rootfs_parent_mount, &bad);
    plan->rootfs_propagation = header.rootfs_propagation;
    plan->clone_flags = header.clone_flags;
    struct isorun_mount_op *ops = (struct isorun_mount_op *)space;
    const char *cursor = message + sizeof header;
    for (int i = 0; i < header.mount_count; i++) {
        struct packed_mount m;
        memcpy(&m, cursor, sizeof m);
        cursor += sizeof m;
        ops[i] = (struct isorun_mount_op){
            .kind = m.kind,
            .source = unpack_string(strings, strings_size, m.source, &bad),
            .target = unpack_string(strings, strings_size, m.target, &bad),
            .fstype = unpack_string(strings, strings_size, m.fstype, &bad),
            .flags = m.flags,
            .propagation = m.propagation,
            .data = unpack_string(strings, strings_size, m.data, &bad),
            .remount_flags = m.remount_flags,
            .target_is_file = m.target_is_file,
            .device_mode = m.device_mode,
            .device_number = m.device_number,
            .device_uid = m.device_uid,
            .device_gid = m.device_gid,
            .device_existing_must_match = m.device_existing_must_match,
            .source_fd = -1,
            .recursive_attr_set = m.recursive_attr_set,
            .recursive_attr_clr = m.recursive_attr_clr,
        };
    }
    const char **path_list = (const char **)(space + (size_t)header.mount_count * sizeof(struct isorun_mount_op));
    for (size_t i = 0; i < paths; i++) {
        int32_t offset;
        memcpy(&offset, cursor, sizeof offset);
        cursor += sizeof offset;
        path_list[i] = unpack_string(strings, strings_size, offset, &bad);
        if (path_list[i] == NULL) bad = 1;
    }
    plan->mounts = ops;
    plan->mount_count = header.mount_count;
    plan->masked_paths = path_list;
    plan->masked_count = header.masked_count;
    plan->readonly_paths = path_list + header.masked_count;
    plan->readonly_count = header.readonly_count;
    return bad || plan->rootfs == NULL ? -1 : 0;
}

/// The helper's part, once it has sent the network namespace: waits for a plan (EOF: none
/// comes), makes the rootfs in a new mount namespace and sends that namespace back. A
/// failure goes back as the child's report would (isorun_child_error), and the helper
/// exits 125.
void isorun_serve_rootfs_ahead(int sock) {
    // The namespace is made while the helper would idle anyway (it costs a copy of the
    // host's mount table), and its descriptor opened while /proc is still the host's.
    if (unshare(CLONE_NEWNS) < 0) return;
    int fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    size_t size = 2 * PACKED_PLAN_LIMIT;
    char *buffer = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (buffer == MAP_FAILED) return;
    ssize_t length;
    do { length = recv(sock, buffer, PACKED_PLAN_LIMIT, 0); } while (length < 0 && errno == EINTR);
    if (length <= 0) return;
    struct isorun_spawn_plan plan;
    if (unpack(buffer, (size_t)length, buffer + PACKED_PLAN_LIMIT, PACKED_PLAN_LIMIT, &plan) < 0) return;
    isorun_make_rootfs_ahead(sock, &plan);
    isorun_send_fd(sock, fd, "rootfs");
}

int isorun_network_namespace_request_rootfs(struct isorun_network_namespace *ns, const struct isorun_spawn_plan *plan) {
    if (ns->socket < 0 || ns->rootfs_requested || !isorun_rootfs_can_be_made_ahead(plan)) return 0;
    struct packer p;
    if (pack(plan, &p) < 0) return 0;
    ssize_t sent;
    do { sent = send(ns->socket, p.buffer, p.length, MSG_NOSIGNAL); } while (sent < 0 && errno == EINTR);
    int saved = errno;
    free(p.buffer);
    if (sent < 0) return -saved;
    ns->rootfs_requested = 1;
    return 1;
}

int isorun_network_namespace_rootfs_socket(const struct isorun_network_namespace *ns) {
    return ns->rootfs_requested && ns->result >= 0 ? ns->socket : -1;
}
