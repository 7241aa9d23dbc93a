// A tmpfs's `tmpcopyup` (copy_up.c): private to the shim.
#ifndef ISORUN_COPY_UP_H
#define ISORUN_COPY_UP_H

/// Copies the tree in directory `from` into the empty directory `to`: directories, files,
/// symlinks, FIFOs and device nodes with their modes, owners and times; sockets are left
/// out. Symlinks are copied, never followed. 0, or -errno with the name of the entry that
/// failed in `failed` (`cap` bytes; left empty when the directory itself failed).
int isorun_copy_tree(int from, int to, char *failed, unsigned long cap);

#endif
