package vmdetect

import "strings"

// qemuOpts is a parsed QemuOpts string, in order.
type qemuOpts []opt

type opt struct {
	key, value string
	implied    bool // the first element had no '=': the implied key (guest for -name)
}

// parseOpts parses a QemuOpts option string the way qemu does
// (util/qemu-option.c, get_opt_name_value): elements separated by ',', a
// ',,' standing for one literal comma, each element key=value; the first
// element may be a bare value for the option's implied key ("guest" for
// -name). A later element without '=' is a boolean flag ("key" means
// key=on).
func parseOpts(s string) qemuOpts {
	var out qemuOpts
	first := true
	for len(s) > 0 || first {
		// qemu takes the implied key when no '=' comes before the first
		// ',' (escaped or not): "a,,b=c" is guest="a,b=c".
		implied := false
		if first {
			i := strings.IndexAny(s, "=,")
			implied = i < 0 || s[i] == ','
		}
		var elem string
		elem, s = nextElem(s)
		o := opt{}
		if implied {
			o.key, o.value, o.implied = "guest", elem, true
		} else if k, v, ok := strings.Cut(elem, "="); ok {
			o.key, o.value = k, v
		} else {
			o.key, o.value = elem, "on"
		}
		first = false
		out = append(out, o)
	}
	return out
}

// nextElem cuts the first ','-separated element from s, unescaping ",,".
func nextElem(s string) (elem, rest string) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != ',' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == ',' {
			b.WriteByte(',')
			i++
			continue
		}
		return b.String(), s[i+1:]
	}
	return b.String(), ""
}

// guest returns the VM name: the value of guest=, the last one given, and
// whether it was given with its key (libvirt) rather than implied.
func (o qemuOpts) guest() (name string, explicit bool) {
	for _, x := range o {
		if x.key == "guest" {
			name, explicit = x.value, !x.implied
		}
	}
	return name, explicit
}
