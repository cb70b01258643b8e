// Package qemuargs parses a qemu command line the way qemu reads it: an
// option's value among the arguments (Value), a QemuOpts option string
// such as -name's (ParseOpts; see qemu's util/qemu-option.c and the -name
// entry of qemu-options.hx), and a command line whose argument boundaries
// were lost (SplitJoined). It knows qemu's grammar, not which process is a
// VM: package vmdetect decides that with it. It imports nothing of the
// project.
package qemuargs

import "strings"

// Opts is a parsed QemuOpts string, in order.
type Opts []Opt

// Opt is one element of a QemuOpts string.
type Opt struct {
	Key, Value string
	// Implied is set when the first element had no '=' and so stands for
	// the option's implied key (guest for -name).
	Implied bool
}

// ParseOpts parses a QemuOpts option string the way qemu does
// (util/qemu-option.c, get_opt_name_value): elements separated by ',', a
// ',,' standing for one literal comma, each element key=value; the first
// element may be a bare value for the option's implied key ("guest" for
// -name). A later element without '=' is a boolean flag ("key" means
// key=on).
func ParseOpts(s string) Opts {
	var out Opts
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
		o := Opt{}
		if implied {
			o.Key, o.Value, o.Implied = "guest", elem, true
		} else if k, v, ok := strings.Cut(elem, "="); ok {
			o.Key, o.Value = k, v
		} else {
			o.Key, o.Value = elem, "on"
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

// Guest returns the VM name: the value of guest=, the last one given, and
// whether it was given with its key (libvirt) rather than implied.
func (o Opts) Guest() (name string, explicit bool) {
	for _, x := range o {
		if x.Key == "guest" {
			name, explicit = x.Value, !x.Implied
		}
	}
	return name, explicit
}

// Value returns the value of qemu option -<name> (or --<name>) in args,
// the last one when given several times (qemu keeps the last -name). The
// value is the argument that follows the option; args[0] is the program.
func Value(args []string, name string) (string, bool) {
	var val string
	found := false
	for i := 1; i < len(args)-1; i++ {
		a := args[i]
		if a == "-"+name || a == "--"+name {
			val, found = args[i+1], true
			i++
		}
	}
	return val, found
}

// SplitJoined splits a command line whose argument boundaries were lost
// (arguments joined with spaces, as procstat's Meta.Cmdline) into qemu
// arguments: argv[0], then options (words starting with '-') and their
// values. A word that does not start with '-' and follows a value, not an
// option, is taken as the rest of that value, rejoined with a space: so
// "-name guest=my vm,debug-threads=on -S" gives the value
// "guest=my vm,debug-threads=on". A value that itself holds " -" cannot be
// told apart from a new option and is cut there.
func SplitJoined(line string) []string {
	words := strings.Fields(line)
	if len(words) == 0 {
		return nil
	}
	args := []string{words[0]}
	prevOption := false
	for _, w := range words[1:] {
		switch {
		case strings.HasPrefix(w, "-"):
			args = append(args, w)
			prevOption = true
		case prevOption || len(args) == 1:
			args = append(args, w)
			prevOption = false
		default:
			args[len(args)-1] += " " + w
		}
	}
	return args
}
