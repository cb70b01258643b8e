package otlp

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"

	"github.com/wattlens/wattlens/internal/container"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
)

// Attribute keys. Where an OpenTelemetry semantic convention exists
// (semconv v1.43: hardware, host, process, container, k8s) its name is
// used; the rest are in the wattlens namespace.
const (
	keyHwID     = attribute.Key("hw.id")
	keyHwType   = attribute.Key("hw.type")
	keyHwName   = attribute.Key("hw.name")
	keyHwParent = attribute.Key("hw.parent")

	keyPID         = attribute.Key("process.pid")
	keyExePath     = attribute.Key("process.executable.path")
	keyExeName     = attribute.Key("process.executable.name")
	keyCommandLine = attribute.Key("process.command_line")

	keyContainerID      = attribute.Key("container.id")
	keyContainerName    = attribute.Key("container.name")
	keyContainerRuntime = attribute.Key("container.runtime.name")
	keyPodName          = attribute.Key("k8s.pod.name")
	keyPodUID           = attribute.Key("k8s.pod.uid")
	keyNamespace        = attribute.Key("k8s.namespace.name")

	keyConsumer = attribute.Key("wattlens.consumer")
	keySource   = attribute.Key("wattlens.source")
	keyZone     = attribute.Key("wattlens.zone")
	keySocket   = attribute.Key("wattlens.socket")
	keySensor   = attribute.Key("wattlens.sensor")
	keyOrigin   = attribute.Key("wattlens.idle.origin")
	keyService  = attribute.Key("wattlens.service")
	// keyResource is what a consumer's energy was spent on, in the
	// manner of hw.type: cpu, memory, storage, network, gpu, platform.
	keyResource = attribute.Key("wattlens.resource")
)

// withResource returns set with wattlens.resource added.
func withResource(set attribute.Set, r string) attribute.Set {
	return attribute.NewSet(append(set.ToSlice(), keyResource.String(r))...)
}

// Values of wattlens.consumer: the series of wattlens.consumer.energy add
// up to hw.host.energy.
const (
	ConsumerProcess      = "process"
	ConsumerOther        = "other"
	ConsumerUnattributed = "unattributed"
	ConsumerIdle         = "idle"
)

// maxValueBytes bounds attribute values that come from the machine (paths,
// names), whatever the command-line length says.
const maxValueBytes = 1024

// processAttrs are one process lifetime's attributes, made once when it
// enters the listed set (and again after an exec).
func processAttrs(k procinfo.Key, m *procinfo.Meta, cmdlineMax int, containers bool) attribute.Set {
	kv := []attribute.KeyValue{keyConsumer.String(ConsumerProcess), keyPID.Int(k.PID)}
	if m != nil {
		if exe := clean(m.Exe, maxValueBytes); exe != "" {
			kv = append(kv, keyExePath.String(exe))
		}
		if comm := clean(m.Comm, maxValueBytes); comm != "" {
			kv = append(kv, keyExeName.String(comm))
		}
		if cmd := clean(m.Cmdline, cmdlineMax); cmd != "" {
			kv = append(kv, keyCommandLine.String(cmd))
		}
		if w := container.WorkloadOf(m.Workload); containers && w != nil {
			kv = append(kv, workloadAttrs(w)...)
		}
	}
	return attribute.NewSet(kv...)
}

// workloadAttrs are the container and pod attributes of a process or group
// that runs in a container; none for a service or a plain process.
func workloadAttrs(w *container.Workload) []attribute.KeyValue {
	if w.Kind != container.KindContainer {
		return nil
	}
	kv := []attribute.KeyValue{keyContainerID.String(w.ID)}
	kv = appendNonEmpty(kv, keyContainerName, w.Name)
	kv = appendNonEmpty(kv, keyContainerRuntime, w.Runtime)
	kv = appendNonEmpty(kv, keyPodUID, w.PodUID)
	kv = appendNonEmpty(kv, keyPodName, w.Pod)
	return appendNonEmpty(kv, keyNamespace, w.Namespace)
}

// groupAttrs are a container's, pod's or service's attributes.
func groupAttrs(g *snapshot.Group) attribute.Set {
	w := container.WorkloadOf(g.Workload)
	var kv []attribute.KeyValue
	switch g.Kind {
	case "container":
		if w != nil && w.Kind == container.KindContainer && w.ID == g.ID {
			kv = workloadAttrs(w)
		} else {
			kv = []attribute.KeyValue{keyContainerID.String(g.ID)}
		}
	case "pod":
		kv = []attribute.KeyValue{keyPodUID.String(g.ID)}
		if w != nil {
			kv = appendNonEmpty(kv, keyPodName, w.Pod)
			kv = appendNonEmpty(kv, keyNamespace, w.Namespace)
		}
	default:
		kv = []attribute.KeyValue{keyService.String(clean(g.ID, maxValueBytes))}
	}
	return attribute.NewSet(kv...)
}

func appendNonEmpty(kv []attribute.KeyValue, k attribute.Key, v string) []attribute.KeyValue {
	if v = clean(v, maxValueBytes); v != "" {
		kv = append(kv, k.String(v))
	}
	return kv
}

// hwType maps a zone's kind to the semantic conventions' hw.type: the CPU
// package and its parts are "cpu", DRAM is "memory", a GPU "gpu". psys
// (the platform: SoC and its surroundings) has no component type of its
// own; it is the nearest whole, the "enclosure".
func hwType(kind string) string {
	switch kind {
	case power.KindPackage, power.KindCore, power.KindUncore:
		return "cpu"
	case power.KindDRAM:
		return "memory"
	case power.KindGPU:
		return "gpu"
	case power.KindPsys:
		return "enclosure"
	}
	return kind
}

// zoneAttrs are a zone's attributes: hw.id is the zone's stable ID
// (intel-rapl:0:1), hw.parent the zone that contains it (intel-rapl:0).
func zoneAttrs(z *snapshot.Zone) attribute.Set {
	kv := []attribute.KeyValue{
		keyHwID.String(clean(z.ID, maxValueBytes)),
		keyHwType.String(hwType(z.Kind)),
		keyZone.String(z.Kind),
		keySource.String(sourceValue(z.Source)),
	}
	kv = appendNonEmpty(kv, keyHwName, z.Name)
	if i := strings.LastIndexByte(z.ID, ':'); i > 0 && strings.Count(z.ID, ":") >= 2 {
		kv = append(kv, keyHwParent.String(clean(z.ID[:i], maxValueBytes)))
	}
	if z.Socket >= 0 {
		kv = append(kv, keySocket.Int(z.Socket))
	}
	return attribute.NewSet(kv...)
}

// sourceValue is measured unless estimated.
func sourceValue(s power.Source) string {
	if s == power.Estimated {
		return string(power.Estimated)
	}
	return string(power.Measured)
}

// clean makes s an attribute value: valid UTF-8, control characters turned
// into spaces, trailing space trimmed, at most max bytes (max <= 0: no
// limit) cut on a rune boundary and ending in "…" when cut.
func clean(s string, max int) string {
	if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
		s = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, strings.ToValidUTF8(s, "\uFFFD"))
	}
	s = strings.TrimRight(s, " ")
	const ellipsis = "…"
	if max <= 0 || len(s) <= max {
		return s
	}
	n := max - len(ellipsis)
	if n < 0 {
		n = 0
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + ellipsis
}
