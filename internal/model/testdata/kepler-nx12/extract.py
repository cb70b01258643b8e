#!/usr/bin/env python3
"""Extract nx12.csv from a clone of sustainable-computing-io/kepler-model-db.

Usage: extract.py <git dir of kepler-model-db> > nx12.csv

Reads, at commit COMMIT, the two preprocessed files of machine nx12 (Kepler
v0.6, stress-ng CPU/cache/stream/vm-rw/sctp workloads, every 3 s) and joins
them on the timestamp: the ACPI platform power of the BPFOnly "acpi" file
and the RAPL package and DRAM power of the BPFOnly "rapl" file, with the
BPF CPU time both carry. Each row keeps the line numbers it came from.
"""
import csv, io, subprocess, sys

COMMIT = "3bb4d645243226603b052938f653f94f1ff50878"
BASE = "models/v0.6/nx12/preprocessed_data/"
ACPI = BASE + "preprocess_abs_default_acpi_BPFOnly.csv"
RAPL = BASE + "preprocess_abs_default_rapl_BPFOnly.csv"


def rows(git, path):
    text = subprocess.run(["git", "--git-dir", git, "show", COMMIT + ":" + path],
                          check=True, capture_output=True, text=True).stdout
    for n, r in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        yield n, r


def main():
    git = sys.argv[1]
    rapl = {r["timestamp"]: (n, r) for n, r in rows(git, RAPL)}
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["acpi_line", "rapl_line", "timestamp", "bpf_cpu_time_us", "platform_w", "package_w", "dram_w"])
    for n, a in rows(git, ACPI):
        m = rapl.get(a["timestamp"])
        if m is None:
            continue
        rn, r = m
        if r["bpf_cpu_time_us"] != a["bpf_cpu_time_us"]:
            sys.exit("line %d: the two files disagree on the CPU time" % n)
        w.writerow([n, rn, a["timestamp"], a["bpf_cpu_time_us"], a["platform_power"],
                    "%.3f" % float(r["package_power"]), "%.3f" % float(r["dram_power"])])


main()
