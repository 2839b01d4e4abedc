// Package fsys is the file-system seam of the queue: every file-system call
// the queue makes goes through the FS interface, relative to the queue
// directory, so that the same queue code runs on
//
//   - the real disk (OS): openat/renameat/unlinkat on a held directory
//     descriptor, always with O_NOFOLLOW|O_CLOEXEC, so that no symlink can
//     redirect the queue outside its directory. os_unix.go is shared by
//     Linux, macOS, FreeBSD, NetBSD, OpenBSD and DragonFly; os_portable.go
//     holds what all of them can run (named temporary lock files, batched
//     listings) and os_linux.go the Linux fast paths beside it (O_TMPFILE,
//     getdents64); sync_darwin.go flushes with F_FULLFSYNC. OpenPortable
//     or the build tag capq_portable run the portable paths on Linux. On
//     other systems (os_other.go) OpenOS fails with ErrNoBackend, which
//     wraps errors.ErrUnsupported;
//   - an in-memory file system (Mem) that tracks which bytes and which
//     directory entries are durable, so that power loss can be simulated on a
//     machine whose own disk cannot be cut off;
//   - a fault-injecting wrapper (Fault) around either, which fails the Nth
//     call of an operation with a chosen errno.
//
// Names are slash-separated and relative to the root. They have at most two
// components ("pending-X.json" or "quarantine/pending-X.json"); the directory
// component is itself never followed if it is a symlink. Implementations
// return errors that wrap an Errno (ENOENT, EEXIST, ELOOP, EWOULDBLOCK, ...),
// which is syscall.Errno wherever the system has one, so that callers can
// use errors.Is. Callers test errnos by one rule (errno.go): through
// fs.ErrNotExist, fs.ErrExist, fs.ErrPermission and errors.ErrUnsupported
// where those say the same, otherwise through this package's constants
// (fsys.ELOOP, fsys.ENOSPC, ...), never through package syscall, so that
// every package builds on every system, Plan 9 included (errno_plan9.go).
package fsys
