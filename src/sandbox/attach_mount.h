// AttachReadOnlyTree: mounts a host directory or file, read-only, into the mount namespace of a
// running sandbox instance: how a pre-started "stem cell" receives an action's code.
//
// How: the server (root on the host) clones the source with open_tree(OPEN_TREE_CLONE) (not
// recursive: mounts below the source stay hidden), makes the detached clone read-only, nosuid,
// nodev and noexec-free (code may be executable) with mount_setattr, then a short-lived helper
// (clone with CLONE_VM|CLONE_VFORK, without CLONE_FS, because setns into a mount namespace is
// refused to a thread that shares its fs state) enters the instance's mount namespace through
// its pidfd and attaches the clone on `target` with move_mount. Nothing is copied and the
// instance never resolves a host path; it cannot remount the tree writable (it holds no
// capability, and the kernel locks the flags of mounts made by a more privileged namespace).
//
// Contract:
//  - `target` must be absolute without "." or ".." components and must already exist in the
//    instance's root with the same type as `source` (directory on directory, file on file).
//  - Thread-safe; blocks for the helper's lifetime (tens of microseconds).
//  - Errors name the step: "attach code: 'open_tree' failed: <errno text>".
#pragma once

#include <string>

#include "common/result.h"

namespace hotrod {

Status AttachReadOnlyTree(int instance_pidfd, const std::string& source, const std::string& target);

}  // namespace hotrod
