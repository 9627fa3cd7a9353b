#!/usr/bin/env python3
"""The soak topology of docs/checkpoint.md: topologies/msnn_30x10x10.ron with PAIRS more
(2 ms rest, 40 ms noisy-digit presentation) steps, 84 CLK periods each, and the hidden
layer's node voltages probed besides the shipped signals. Writes the RON to stdout.

    python3 docs/scripts/soak_checkpoint.py 11905 > soak.ron   # ~10^6 CLK periods
"""
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parents[2] / "topologies"
text = (root / "msnn_30x10x10.ron").read_text()
pairs = int(sys.argv[1])
last = '        Present(input: "pixels", pattern: "0", flips: 2, duration_us: 40000),\n'
assert last in text
more = "".join(
    '        Rest(duration_us: 2000),\n'
    f'        Present(input: "pixels", pattern: "{"017"[i % 3]}", flips: 2, duration_us: 40000),\n'
    for i in range(pairs)
)
text = (
    text.replace('"patterns/digits_6x5.ron"', '"%s"' % (root / "patterns/digits_6x5.ron"))
    .replace(
        '(target: "hidden", signals: [Spikes, Gates])',
        '(target: "hidden", signals: [Spikes, Gates, Node])',
    )
    .replace(last, last + more)
)
sys.stdout.write(text)
