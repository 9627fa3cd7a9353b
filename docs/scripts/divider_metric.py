#!/usr/bin/env python3
"""How well can a resistive divider read out digit prototypes? (docs/mnist.md)

Learns K prototypes of the binarised training digits offline by k-means (Lloyd, 30
iterations, seeded), writes them into 1T1R conductances G = g_min + (g_max - g_min) * c,
and scores the test digits with several read-out metrics, labelling each prototype with
the class it wins most on the training split (the same read-out as `memsnn reproduce
mnist`). The divider `V = sum(G * x) / (sum(G) + G_load)` is what node 1 of a column
computes (a load conductance G_load to ground at node 1; 0 in the paper's circuit).

    python3 docs/scripts/divider_metric.py DIR [K ...]

DIR holds the four standard IDX files (gzip or not); needs numpy.
"""
import gzip
import os
import struct
import sys

import numpy as np

G_MIN, G_MAX = 40e-6, 980e-6  # topologies/devices/rs_hfo2_1t1r.ron


def idx(folder, *stems):
    for name in [s + z for s in stems for z in ("", ".gz")]:
        path = os.path.join(folder, name)
        if os.path.exists(path):
            raw = (gzip.open if name.endswith(".gz") else open)(path, "rb").read()
            dims = struct.unpack(">" + "I" * raw[3], raw[4 : 4 + 4 * raw[3]])
            return np.frombuffer(raw[4 + 4 * raw[3] :], np.uint8).reshape(dims)
    sys.exit(f"{folder}: no {stems[0]}[.gz]")


def main():
    folder, ks = sys.argv[1], [int(k) for k in sys.argv[2:]] or [100, 400]
    xtr = (idx(folder, "train-images-idx3-ubyte") >= 128).astype(float)
    xtr = xtr.reshape(len(xtr), -1)
    ytr = idx(folder, "train-labels-idx1-ubyte")
    xte = (idx(folder, "t10k-images-idx3-ubyte", "test-images-idx3-ubyte") >= 128).astype(float)
    xte = xte.reshape(len(xte), -1)
    yte = idx(folder, "t10k-labels-idx1-ubyte", "test-labels-idx1-ubyte")
    for k in ks:
        rng = np.random.default_rng(1)
        c = xtr[rng.choice(len(xtr), k, replace=False)].copy()
        for _ in range(30):
            a = ((c**2).sum(1)[None] - 2 * xtr @ c.T).argmin(1)
            for j in range(k):
                if (a == j).any():
                    c[j] = xtr[a == j].mean(0)
        g = G_MIN + (G_MAX - G_MIN) * c

        def accuracy(score):
            won = score(xtr).argmax(1)
            labels = np.array(
                [np.bincount(ytr[won == j], minlength=10).argmax() if (won == j).any() else 0 for j in range(k)]
            )
            return (labels[score(xte).argmax(1)] == yte).mean()

        rows = [("nearest prototype (Euclidean)", lambda x: x @ c.T - 0.5 * (c**2).sum(1)[None])]
        rows += [("cosine", lambda x: x @ c.T / np.sqrt((c**2).sum(1))[None])]
        for load in (0.0, 0.01, 0.03, 0.1, 0.3):
            rows += [(f"divider, G_load = {load} S", lambda x, l=load: x @ g.T / (g.sum(1)[None] + l))]
        print(f"K = {k} prototypes, {len(xtr)} training / {len(xte)} test digits")
        for name, score in rows:
            print(f"  {name:32s} {100 * accuracy(score):5.1f} %")


if __name__ == "__main__":
    main()
