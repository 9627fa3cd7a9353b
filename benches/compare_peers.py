#!/usr/bin/env python3
"""Run memsnn and the Brian2 / NEST baselines on the same `wta_ff` workload, one after the
other on this machine, and print the synaptic-events/s ratios.

The baselines are the scripts `brian2_bench.py` and `nest_bench.py` with their own virtual
environment (install them as their README says: `python3 -m venv .venv &&
.venv/bin/pip install -r requirements.txt` in their folder). memsnn is run through
`memsnn bench`, which prints JSON lines in the same schema.

    python3 benches/compare_peers.py --peers /tmp/peers --size 784x1600 --reps 3
    python3 benches/compare_peers.py --peers /tmp/peers --size 784x100,784x400,784x1600,784x6400
    python3 benches/compare_peers.py --peers /tmp/peers --size 784x400 --learning
    python3 benches/compare_peers.py --peers /tmp/peers --size 784x1600 --pulse-prob 0.5

Every JSON line (all simulators) is appended to --out (default results/bench/compare.jsonl).
Medians over the repetitions are compared; the shared 2-core machines vary by up to ~25 %
between runs, which is why the peers and memsnn are measured in the same run.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def json_lines(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def run(cmd, cwd=None):
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stderr[-2000:], file=sys.stderr)
        return []
    return json_lines(p.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peers", required=True, help="folder with brian2_bench.py, nest_bench.py and .venv")
    ap.add_argument("--size", default="784x1600", help="comma-separated INPUTSxNEURONS")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--memsnn", default=os.path.join(ROOT, "target", "release", "memsnn"),
                    help="memsnn binary (built with `cargo build --release`)")
    ap.add_argument("--executors", default="reference,sharded", help="memsnn executors")
    ap.add_argument("--workers", default="1,2", help="memsnn worker counts (sharded)")
    ap.add_argument("--peer-threads", default="1", help="threads for the peers, e.g. 1,2")
    ap.add_argument("--peer-reps", type=int, default=None, help="repetitions of the peers (default --reps)")
    ap.add_argument("--no-nest-above", type=int, default=None,
                    help="skip NEST for more output neurons than this (784x6400 takes ~80 s per run)")
    ap.add_argument("--learning", action="store_true",
                    help="learning variants: the peers' wta_ff_stdp against memsnn's wta_ff_learning")
    ap.add_argument("--pulse-prob", type=float, default=None,
                    help="Bernoulli-gated inputs (wta_ff_p0.5): every simulator keeps each input pulse "
                         "with this probability")
    ap.add_argument("--out", default=os.path.join(ROOT, "results", "bench", "compare.jsonl"))
    args = ap.parse_args()

    py = os.path.join(args.peers, ".venv", "bin", "python")
    if not os.path.exists(py):
        sys.exit(f"{py} not found: install the baselines first (see their README)")
    if not os.path.exists(args.memsnn):
        sys.exit(f"{args.memsnn} not found: run `cargo build --release` first")
    records = []
    for size in args.size.split(","):
        n_in, n_out = size.split("x")
        peer_reps = args.peer_reps or args.reps
        for threads in args.peer_threads.split(","):
            common = ["--workload", "wta_ff", "--n-in", n_in, "--n-out", n_out,
                      "--reps", str(peer_reps), "--threads", threads]
            if args.learning:
                common.append("--stdp")
            if args.pulse_prob is not None:
                common += ["--pulse-prob", str(args.pulse_prob)]
            records += run([py, "brian2_bench.py", "--mode", "cpp_standalone"] + common, cwd=args.peers)
            if args.no_nest_above is None or int(n_out) <= args.no_nest_above:
                records += run([py, "nest_bench.py"] + common, cwd=args.peers)
        workload = "wta_ff_learning" if args.learning else "wta_ff"
        gate = [] if args.pulse_prob is None else ["--pulse-prob", str(args.pulse_prob)]
        records += run([args.memsnn, "bench", "--workload", workload, "--size", size,
                        "--reps", str(args.reps), "--executor", args.executors,
                        "--workers", args.workers] + gate)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "a") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")

    groups = {}
    for r in records:
        n_syn = r["n_synapses"]
        key = (n_syn, r["simulator"], r["mode"], r.get("threads", 1))
        groups.setdefault(key, []).append(r["events_per_s"])
    med = {k: statistics.median(v) for k, v in groups.items()}
    print("| synapses | simulator | mode | threads | events/s (median) | memsnn best / this |")
    print("|---|---|---|---|---|---|")
    for n_syn in sorted({k[0] for k in med}):
        rows = {k: v for k, v in med.items() if k[0] == n_syn}
        best = max((v for k, v in rows.items() if k[1] == "memsnn"), default=None)
        for k, v in sorted(rows.items(), key=lambda kv: -kv[1]):
            ratio = f"{best / v:.2f}x" if best else "-"
            print(f"| {n_syn} | {k[1]} | {k[2]} | {k[3]} | {v:.3g} | {ratio} |")
    print(f"\nall lines appended to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
