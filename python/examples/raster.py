"""Run a topology and plot its spike raster (notebook-style: run it cell by cell, or whole).

    python python/examples/raster.py topologies/msnn_30x10x10.ron --out raster.png

Without matplotlib the fires are printed instead.
"""

# %%
import argparse
from pathlib import Path

import numpy as np

import memsnn

ROOT = Path(__file__).resolve().parents[2]

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("topology", nargs="?", default=str(ROOT / "topologies" / "fig3b.ron"))
parser.add_argument("--seed", type=int, default=1)
parser.add_argument("--executor", default="reference", choices=memsnn.EXECUTORS)
parser.add_argument("--workers", type=int, default=1)
parser.add_argument("--out", default="raster.png")
args = parser.parse_args()

# %% Load (every file checked once) and run (the GIL is released meanwhile).
model = memsnn.load(args.topology)
result = model.run(seed=args.seed, executor=args.executor, workers=args.workers)
print(result)
spikes = result.spikes
e = result.energy
print(f"{len(spikes)} fires in {result.wall_s:.3f} s of wall time")
print(
    f"energy {e['total_joules']:.3e} J over {e['synaptic_events']} synaptic events: "
    f"{e['joules_per_synaptic_event']:.3e} J each (TrueNorth 26 pJ, Loihi ~24 pJ)"
)

# %% The raster: one row per (layer, neuron), time in ms.
layers = list(model.layers)
offset = np.cumsum([0] + [model.layers[l] for l in layers])
row = np.array([offset[layers.index(l)] for l in spikes["layer"]], dtype=int) + spikes["neuron"]
t_ms = spikes["time_ns"] / 1e6
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    for t, l, n in zip(t_ms, spikes["layer"], spikes["neuron"]):
        print(f"{t:10.3f} ms  {l}[{n}]")
else:
    fig, ax = plt.subplots(figsize=(8, 3 + 0.02 * offset[-1]))
    ax.scatter(t_ms, row, s=4, marker="|")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron (layers stacked: " + ", ".join(layers) + ")")
    ax.set_title(f"{model.name}, seed {args.seed}")
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")
