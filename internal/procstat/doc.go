// Package procstat reads what attribution needs to know about processes
// from procfs, as procinfo values: the CPU time of every process each tick, and — once per
// process lifetime, and again after an exec — its executable, name,
// command line and cgroup.
//
// A process is identified by its PID and its start time (field 22 of
// /proc/<pid>/stat, in clock ticks since boot): a PID reused by a new
// process is a new process. An exec is told by a change of the process's
// name (comm, field 2 of the same stat line), which execve sets to the new
// program's file name; an exec of a program with the same name is not
// seen (see Reader).
package procstat
