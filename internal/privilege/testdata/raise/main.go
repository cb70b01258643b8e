// Command raise calls privilege.RaiseEffective and prints the set it
// raised and CapEff after, "raised | effective": raise_test.go builds it
// with CGO_ENABLED=0, as the container image's binary is built.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/wattlens/wattlens/internal/privilege"
)

func main() {
	set, err := privilege.RaiseEffective()
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	p, err := privilege.Self("/proc")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	fmt.Println(strings.Join(set.Names(), ","), "|", strings.Join(p.Effective.Names(), ","))
}
