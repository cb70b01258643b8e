#!/usr/bin/env python3
"""Extract dimm.csv from a clone of lukalt/icpe-2024-rapl-validation.

Usage: extract.py <git dir of icpe-2024-rapl-validation> > dimm.csv

For two configurations with one DIMM per socket, Broadwell-EP
ddr4-2x16gb-2400-both (threads on both sockets) and Ice Lake-SP
ddr4-32gb-3200 (threads on socket 0; its "-both" runs have no RAPL file),
every workload run: the mean power of each DIMM from
the riser card's 1 kHz voltages (config.json: for each power line, common-
mode voltage × voltage drop / (sense resistance × gain), summed over VDD
and VPP), and the mean RAPL DRAM power of the same socket (_perf.txt). A run whose
voltage file is absent from the snapshot read is skipped and named on
standard error.
"""
import csv, io, json, re, subprocess, sys

COMMIT = "ae2aa275b3db6b2937c52cd90da513b7f54841eb"
CONFIGS = [("broadwell", "ddr4-2x16gb-2400-both", 16), ("icelake", "ddr4-32gb-3200", 32)]
ROOT = "data/rapl-and-reference-results/"


def git(gitdir, *args):
    return subprocess.run(["git", "--git-dir", gitdir] + list(args), check=True, capture_output=True, text=True).stdout


def main():
    g = sys.argv[1]
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["arch", "workload", "socket", "dimm_gb", "dimm_w", "rapl_dram_w", "seconds", "source", "rapl_source"])
    for arch, cfg, gb in CONFIGS:
        base = ROOT + arch + "/" + cfg + "/"
        conf = json.loads(git(g, "show", COMMIT + ":" + base + "config.json"))
        # risers named "... Socket N" hold that socket's DIMM; others
        # (an Optane riser beside the DIMM) are left out
        socket_of = {i: int(m.group(1)) for i, n in enumerate(conf["riser_names"]) if (m := re.search(r"Socket (\d)", n))}
        files = git(g, "ls-tree", "-r", "--name-only", COMMIT, base).split()
        for f in sorted(files):
            m = re.match(re.escape(base) + r"([^/]+)/([0-9a-f]+)\.csv$", f)
            if not m:
                continue
            workload, rid = m.groups()
            perf = base + workload + "/" + rid + "_perf.txt"
            if perf not in files:
                continue
            try:
                raw = git(g, "show", COMMIT + ":" + f)
            except subprocess.CalledProcessError:
                print("skipped (blob absent from the snapshot): " + f, file=sys.stderr)
                continue
            sums, n = {}, 0
            for row in csv.reader(io.StringIO(raw)):
                v = [float(x) for x in row]
                n += 1
                for ch in conf["channels"]:
                    p = v[ch["voltage_channel"]] * ch["voltage_gain"] * v[ch["voltage_drop_channel"]] / (ch["csr_resistance"] * ch["gain"])
                    sums[ch["riser"]] = sums.get(ch["riser"], 0.0) + p
            rapl, secs = {}, 0.0
            for line in git(g, "show", COMMIT + ":" + perf).splitlines():
                parts = line.split(",")
                if len(parts) != 6 or parts[3] != "ram":
                    continue
                try:
                    ts, e = float(parts[0]), float(parts[4])
                except ValueError:
                    continue
                s = int(parts[2].lstrip("N"))
                rapl.setdefault(s, [0.0, 0.0])
                rapl[s][0] += e
                secs = max(secs, ts)
            for riser in sorted(sums):
                if riser not in socket_of:
                    continue
                s = socket_of[riser]
                if s not in rapl or secs <= 0:
                    continue
                w.writerow([arch, workload, s, gb, "%.3f" % (sums[riser] / n), "%.3f" % (rapl[s][0] / secs), "%.1f" % secs,
                            "lukalt/icpe-2024-rapl-validation@%s:%s" % (COMMIT[:12], f), perf])


main()
