package qemu

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/fdio"
)

// Modes of what the exporter creates: the guest (through virtiofsd or
// qemu's 9p server) reads, nobody but the exporter writes.
const (
	dirMode  = 0o755
	fileMode = 0o644
)

// errNotDir marks a path component under --qemu.dir that is a symbolic
// link or not a directory: it is never followed.
var errNotDir = errors.New("is a symbolic link or not a directory; not followed")

// Every path below the root is walked one component at a time with the
// *at system calls relative to an open directory, with O_NOFOLLOW, so a
// symbolic link planted under --qemu.dir (by a guest with a writable share,
// or anyone else) is never followed, and no name can climb out of the
// root: names handed to these functions are single components (see
// DirName), and a component that is a link is refused, not resolved.

// openRoot opens the directory dir, creating it (and its parents) with
// mode 0755 when missing. Symbolic links in dir itself are followed: it
// is the administrator's choice.
func openRoot(dir string) (int, error) {
	fd, err := fdio.Retry(func() (int, error) {
		return unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if errors.Is(err, unix.ENOENT) {
		if err := mkdirAll(dir); err != nil {
			return -1, err
		}
		fd, err = fdio.Retry(func() (int, error) {
			return unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		})
	}
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return fd, nil
}

// mkdirAll is os.MkdirAll with every directory it creates made mode 0755
// whatever the umask: qemu's 9p server may run as an unprivileged user
// that must get through them.
func mkdirAll(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return &os.PathError{Op: "mkdir", Path: dir, Err: unix.ENOTDIR}
		}
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, dirMode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	return os.Chmod(dir, dirMode)
}

// openSubdir opens the directory name inside dirfd without following a
// symbolic link, creating it with mode 0755 first when create is set and
// it is missing.
func openSubdir(dirfd int, name string, create bool) (int, error) {
	open := func() (int, error) {
		return unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	fd, err := fdio.Retry(open)
	if errors.Is(err, unix.ENOENT) && create {
		if err := unix.Mkdirat(dirfd, name, dirMode); err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, fmt.Errorf("mkdir %s: %w", name, err)
		}
		fd, err = fdio.Retry(open)
		if err == nil {
			// mkdir's mode went through the umask; the guest must read.
			if err := unix.Fchmod(fd, dirMode); err != nil {
				closeFD(fd)
				return -1, fmt.Errorf("chmod %s: %w", name, err)
			}
		}
	}
	switch {
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR):
		return -1, fmt.Errorf("%s %w", name, errNotDir)
	case err != nil:
		return -1, fmt.Errorf("open %s: %w", name, err)
	}
	return fd, nil
}

// writeFileAt replaces the file name inside dirfd with data, atomically:
// data goes to a temporary file in the same directory, made mode 0644,
// which is then renamed over name. A reader opening name sees the old
// content or the new, never a part. rename(2) replaces a symbolic link
// planted at name rather than writing through it; the temporary file is
// created with O_EXCL|O_NOFOLLOW, and any leftover of that name is removed
// when the create finds one.
func writeFileAt(dirfd int, name string, data []byte, sync bool) (err error) {
	tmp := "." + name + "." + strconv.Itoa(os.Getpid()) + ".tmp"
	create := func() (int, error) {
		return unix.Openat(dirfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, fileMode)
	}
	fd, err := fdio.Retry(create)
	if errors.Is(err, unix.EEXIST) {
		// A leftover (a crash between create and rename): removed only
		// then, so that a tick costs no unlink.
		if err := unix.Unlinkat(dirfd, tmp, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remove %s: %w", tmp, err)
		}
		fd, err = fdio.Retry(create)
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	defer func() {
		if err != nil {
			_ = unix.Unlinkat(dirfd, tmp, 0)
		}
	}()
	err = writeAll(fd, data)
	if err == nil {
		err = unix.Fchmod(fd, fileMode)
	}
	if err == nil && sync {
		err = unix.Fsync(fd)
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err = unix.Renameat(dirfd, tmp, dirfd, name); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp, name, err)
	}
	return nil
}

// readFileAt reads the small regular file name inside dirfd, without
// following a symbolic link, up to len(buf) bytes.
func readFileAt(dirfd int, name string, buf []byte) (int, error) {
	fd, err := fdio.Retry(func() (int, error) {
		return unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return 0, err
	}
	defer closeFD(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, fmt.Errorf("%s: not a regular file", name)
	}
	return fdio.ReadFull(fd, buf)
}

// isFileAt reports whether name inside dirfd is a regular file (not
// following a symbolic link).
func isFileAt(dirfd int, name string) bool {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFREG
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := fdio.Retry(func() (int, error) { return unix.Write(fd, b) })
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// closeFD closes a descriptor the exporter only read through or whose
// writes are already checked (writeFileAt checks its own close).
func closeFD(fd int) { _ = unix.Close(fd) }

// staleTemp matches the temporaries writeFileAt names: ".<file>.<pid>.tmp".
var staleTemp = regexp.MustCompile(`^\.[A-Za-z0-9_.]+\.([0-9]+)\.tmp$`)

// removeStaleTemps removes from the directory dirfd the temporaries that
// another process (an earlier exporter killed between create and rename)
// left; this process's own are left alone. It returns how many it removed.
func removeStaleTemps(dirfd int) (int, error) {
	dup, err := unix.Dup(dirfd)
	if err != nil {
		return 0, err
	}
	f := os.NewFile(uintptr(dup), "share")
	defer func() { _ = f.Close() }()
	if _, err := f.Seek(0, 0); err != nil {
		return 0, err
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		return 0, err
	}
	own := strconv.Itoa(os.Getpid())
	n := 0
	for _, name := range names {
		m := staleTemp.FindStringSubmatch(name)
		if m == nil || m[1] == own {
			continue
		}
		if err := unix.Unlinkat(dirfd, name, 0); err == nil {
			n++
		}
	}
	return n, nil
}
