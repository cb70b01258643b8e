package powercaptest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// removedDir keeps the zones RemoveZone took away, for RestoreZone.
const removedDir = ".powercaptest-removed"

// ZoneDir returns the directory of zone id in the tree at root: its
// class/powercap symlink, or for a subzone with none, its path below the
// parent zone.
func ZoneDir(root, id string) (string, error) {
	class := PowercapDir(root)
	flat := filepath.Join(class, id)
	if _, err := os.Stat(flat); err == nil {
		return flat, nil
	}
	// intel-rapl:0:1 → class/intel-rapl:0/intel-rapl:0:1
	parts := strings.Split(id, ":")
	path := class
	for i := 2; i <= len(parts); i++ {
		path = filepath.Join(path, strings.Join(parts[:i], ":"))
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("powercaptest: zone %s not found below %s: %w", id, class, fs.ErrNotExist)
	}
	return path, nil
}

// SetEnergy sets zone id's energy_uj to uj, atomically (write a temporary
// file, then rename), keeping the file's mode.
func SetEnergy(root, id string, uj uint64) error {
	return SetFile(root, id, "energy_uj", strconv.FormatUint(uj, 10)+"\n")
}

// SetFile replaces file name of zone id with content, as is (malformed
// contents included), atomically and keeping the file's mode.
func SetFile(root, id, name, content string) error {
	dir, err := ZoneDir(root, id)
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, name), content)
}

// RemoveZone makes zone id vanish, with its subzones and their
// class/powercap links, as when the RAPL driver is unloaded. RestoreZone
// puts it back as it was.
func RemoveZone(root, id string) error {
	path, err := ZoneDir(root, id)
	if err != nil {
		return err
	}
	dir, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	origin, err := filepath.Rel(root, dir)
	if err != nil {
		return err
	}
	stash := filepath.Join(root, removedDir)
	if err := os.MkdirAll(stash, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(stash, id+".origin"), []byte(origin), 0o644); err != nil {
		return err
	}
	if err := os.Rename(dir, filepath.Join(stash, id)); err != nil {
		return err
	}
	return unlinkZones(PowercapDir(root), id)
}

// unlinkZones removes the class/powercap symlinks of zone id and its
// subzones.
func unlinkZones(class, id string) error {
	entries, err := os.ReadDir(class)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if e.Type()&fs.ModeSymlink != 0 && (name == id || strings.HasPrefix(name, id+":")) {
			if err := os.Remove(filepath.Join(class, name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// RestoreZone brings back a zone that RemoveZone took away, with the
// energy counters it had.
func RestoreZone(root, id string) error {
	stash := filepath.Join(root, removedDir)
	originFile := filepath.Join(stash, id+".origin")
	origin, err := os.ReadFile(originFile)
	if err != nil {
		return fmt.Errorf("powercaptest: zone %s was not removed: %w", id, err)
	}
	dir := filepath.Join(root, string(origin))
	if err := os.Rename(filepath.Join(stash, id), dir); err != nil {
		return err
	}
	if err := os.Remove(originFile); err != nil {
		return err
	}
	if !strings.HasPrefix(string(origin), "devices"+string(filepath.Separator)) {
		return nil // Nested shape: zones live in class/powercap, unlinked
	}
	return relink(PowercapDir(root), dir, id)
}

// relink recreates the class/powercap symlinks of the zone in dir and its
// subzones.
func relink(class, dir, id string) error {
	if err := linkZone(class, dir, false); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), id+":") {
			if err := relink(class, filepath.Join(dir, e.Name()), e.Name()); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeAtomic replaces the file at path with content, through a temporary
// file in the same directory and a rename, keeping path's mode (0444 for
// a new file).
func writeAtomic(path, content string) error {
	mode := fs.FileMode(0o444)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	err = errors.Join(err, f.Chmod(mode), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("powercaptest: write %s: %w", path, err)
	}
	return nil
}
