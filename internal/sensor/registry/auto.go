package registry

// AutoChoice returns the names of the sensors `auto` uses, given what Probe
// found: the first working "cpu" sensor in table order, and every working
// "add" sensor, in table order. It mirrors openAuto's rule without opening
// anything again. One difference: openAuto adds an "add" sensor as soon as
// its constructor succeeds, while Probe also reads it once, so an "add"
// sensor that opens but cannot be read is left out here.
func AutoChoice(statuses []Status) []string {
	works := make(map[string]bool, len(statuses))
	for _, st := range statuses {
		works[st.Name] = st.Works
	}
	var chosen []string
	cpu := false
	for _, e := range Entries() {
		if !works[e.Name] {
			continue
		}
		switch {
		case e.Auto == "cpu" && !cpu:
			cpu = true
			chosen = append(chosen, e.Name)
		case e.Auto == "add":
			chosen = append(chosen, e.Name)
		}
	}
	return chosen
}
