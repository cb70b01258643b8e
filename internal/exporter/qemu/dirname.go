package qemu

import (
	"crypto/sha256"
	"encoding/hex"
)

// MaxDirName is the longest directory name DirName returns.
const MaxDirName = 64

// DirName returns the name of the directory under --qemu.dir that holds
// the share of the VM named vm, and whether it differs from vm.
//
// VM names come from other people's command lines, so a name is used as
// is only when it is 1 to MaxDirName bytes of [A-Za-z0-9._-] starting with
// a letter, a digit or '_'. Any other name (one holding '/', "..", control
// characters, spaces or non-ASCII letters, a leading '.' or '-', an empty
// or absurdly long one) has each byte outside that set replaced by '_', a
// bad first byte replaced by '_', is cut to leave room, and gets '-' and 8
// hex digits of the SHA-256 of the original name appended, so that two
// different names do not end up in one directory. The result is always a
// single path component that is neither "." nor "..".
func DirName(vm string) (string, bool) {
	if validDirName(vm) {
		return vm, false
	}
	const suffix = 1 + 8 // "-" + 8 hex digits
	b := make([]byte, 0, min(len(vm), MaxDirName-suffix)+suffix)
	for i := 0; i < len(vm) && len(b) < MaxDirName-suffix; i++ {
		c := vm[i]
		if !safeByte(c) {
			c = '_'
		}
		b = append(b, c)
	}
	if len(b) == 0 {
		b = append(b, '_')
	} else if !safeFirst(b[0]) {
		b[0] = '_'
	}
	sum := sha256.Sum256([]byte(vm))
	b = append(b, '-')
	b = hex.AppendEncode(b, sum[:4])
	return string(b), true
}

func validDirName(s string) bool {
	if len(s) == 0 || len(s) > MaxDirName || !safeFirst(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !safeByte(s[i]) {
			return false
		}
	}
	return true
}

func safeFirst(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

func safeByte(c byte) bool { return safeFirst(c) || c == '.' || c == '-' }
