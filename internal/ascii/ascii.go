// Package ascii holds the small byte-level tests on ASCII text that the
// parsers of kernel names and command lines share (powercap zone IDs,
// qemu's -id, container IDs, OpenStack instance names). It imports
// nothing of the project.
package ascii

// IsDigits reports whether s is one or more decimal digits, '0' to '9',
// and nothing else: no sign, no space, no other Unicode digit.
func IsDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// IsLowerHex reports whether s is one or more lowercase hexadecimal
// digits, '0'–'9' and 'a'–'f', and nothing else: the form of a container
// ID and of the number in a Nova instance name.
func IsLowerHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
