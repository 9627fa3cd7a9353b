"""Fidelity of `memsnn nir import` on one case: a 64×20 Input → Affine → LIF → Output
graph written by the reference `nir` package, imported and run by memsnn, its spike
counts against the LIF rates the graph intends under the same constant inputs.

    python3 -m venv v && v/bin/pip install nir==1.0.8
    cargo build --release
    v/bin/python docs/scripts/nir_fidelity.py [--memsnn target/release/memsnn] [--seed 1]

The imported protocol presents two constant inputs for 100 ms each: every line on
(`all`) and every even line on (`half`). The intended rate of LIF neuron j under input x
(NIR: tau·dv/dt = v_leak − v + r·I, I = W·x + b, fire and reset at v_threshold) is
1/(tau·ln((r·I − v_reset)/(r·I − v_threshold))) when r·I > v_threshold, else 0.
"""

import argparse
import json
import pathlib
import subprocess
import tempfile

import nir
import numpy as np


def graph(seed):
    rng = np.random.default_rng(seed)
    n_in, n_out = 64, 20
    weight = rng.normal(0.0, 1.0, (n_out, n_in)).astype(np.float32)
    tau = np.full(n_out, 0.01)
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([n_in])),
            "fc": nir.Affine(weight=weight, bias=np.zeros(n_out, dtype=np.float32)),
            "lif": nir.LIF(tau=tau, r=np.ones(n_out), v_leak=np.zeros(n_out),
                           v_threshold=np.ones(n_out)),
            "output": nir.Output(output_type=np.array([n_out])),
        },
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
    )


def intended_rates(g, x):
    fc, lif = g.nodes["fc"], g.nodes["lif"]
    drive = lif.r * (fc.weight @ x + fc.bias) + lif.v_leak
    out = np.zeros_like(drive, dtype=float)
    on = drive > lif.v_threshold
    out[on] = 1.0 / (lif.tau[on] * np.log((drive[on] - lif.v_reset[on])
                                          / (drive[on] - lif.v_threshold[on])))
    return out


def ranks(v):
    order = np.argsort(v, kind="stable")
    r = np.empty(len(v))
    r[order] = np.arange(len(v))
    for val in np.unique(v):  # ties share their mean rank
        r[v == val] = r[v == val].mean()
    return r


def spearman(a, b):
    ra, rb = ranks(np.asarray(a, float)), ranks(np.asarray(b, float))
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memsnn", default="target/release/memsnn")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    args = ap.parse_args()
    g = graph(args.seed)
    tmp = pathlib.Path(tempfile.mkdtemp())
    nir.write(tmp / "lif64x20.nir", g)
    subprocess.run([args.memsnn, "nir", "import", tmp / "lif64x20.nir",
                    "--out", tmp / "lif64x20.ron"], check=True)
    subprocess.run([args.memsnn, "run", tmp / "lif64x20.ron", "--out", tmp / "run"],
                   check=True, capture_output=True)
    n_in = 64
    inputs = {"all": np.ones(n_in), "half": (np.arange(n_in) % 2 == 0).astype(float)}
    starts = {}
    for step in json.loads((tmp / "run" / "log.json").read_text())["steps"]:
        present = step["step"].get("Present")
        if present:
            starts[present["pattern"]] = (step["start_ns"], step["end_ns"])
    counts = {k: np.zeros(20) for k in inputs}
    for line in (tmp / "run" / "probes.csv").read_text().splitlines()[1:]:
        t, comp, kind, _, _ = line.split(",")
        if kind != "fire":
            continue
        j = int(comp.split("[")[1].rstrip("]"))
        for k, (a, b) in starts.items():
            if a <= int(t) < b:
                counts[k][j] += 1
    for k, x in inputs.items():
        want = intended_rates(g, x)
        got = counts[k] / 0.1
        active = want > 0
        print(f"{k}: intended LIF rates (Hz) {np.round(want).astype(int).tolist()}")
        print(f"{k}: memsnn rates (Hz)       {np.round(got).astype(int).tolist()}")
        print(f"{k}: Spearman rho = {spearman(want, got):.2f} over 20 neurons; "
              f"{int(active.sum())} should fire, {int((got > 0).sum())} fire; "
              f"rho among those that should = "
              f"{spearman(want[active], got[active]) if active.sum() > 2 else float('nan'):.2f}")


if __name__ == "__main__":
    main()
