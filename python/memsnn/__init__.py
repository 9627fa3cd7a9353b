"""memsnn: event-driven simulation of fully-hardware memristive spiking neural networks.

Hybrid memristor-CMOS neurons, 1T1R synapse crossbars and lateral-inhibition arrays,
simulated exactly in time by the Rust engine; this package loads a topology (RON), runs
it on any of the three executors (identical results) and returns NumPy arrays.

>>> import memsnn
>>> model = memsnn.load("topologies/fig3b.ron")          # doctest: +SKIP
>>> result = model.run(seed=1, executor="sharded", workers=2)  # doctest: +SKIP
>>> result.spikes["time_ns"]                              # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional

import numpy as np

from . import _memsnn
from ._memsnn import MemsnnError, __version__

__all__ = [
    "MemsnnError",
    "Model",
    "Result",
    "load",
    "reproduce",
    "experiments",
    "__version__",
]

EXECUTORS = ("reference", "sharded", "actix")


class Result:
    """What one run of a model produced.

    Attributes are computed once from the run's data and cached.

    * ``spikes`` — fires of the probed neurons, a NumPy structured array with fields
      ``time_ns`` (uint64, simulated ns), ``layer`` (str) and ``neuron`` (uint32), in time
      order.
    * ``probes`` — ``{"component.signal": structured array (time_ns uint64, index uint32,
      value float64)}``, one entry per probed signal (values in SI units: volts, siemens).
    * ``log`` — the protocol log (the ``log.json`` of ``memsnn run``) as a dict, with
      ``energy`` in it.
    * ``energy`` — joules by class, layer and component kind (see docs/energy.md).
    """

    def __init__(self, raw: "_memsnn.RawResult"):
        self._raw = raw
        self._spikes: Optional[np.ndarray] = None
        self._probes: Optional[Dict[str, np.ndarray]] = None
        self._log: Optional[Dict[str, Any]] = None
        self._energy: Optional[Dict[str, Any]] = None

    @property
    def name(self) -> str:
        """The topology's name."""
        return self._raw.name

    @property
    def seed(self) -> int:
        """The root seed of the run."""
        return self._raw.seed

    @property
    def executor(self) -> str:
        """The executor that ran it."""
        return self._raw.executor

    @property
    def wall_s(self) -> float:
        """Wall time of building and running the protocol, seconds."""
        return self._raw.wall_s

    @property
    def spikes(self) -> np.ndarray:
        """Fires: structured array ``time_ns`` (u64), ``layer`` (str), ``neuron`` (u32)."""
        if self._spikes is None:
            t, layer, neuron, names = self._raw.fires()
            width = max([len(n) for n in names] + [1])
            a = np.zeros(
                len(t),
                dtype=[("time_ns", np.uint64), ("layer", f"U{width}"), ("neuron", np.uint32)],
            )
            a["time_ns"] = t
            a["neuron"] = neuron
            if len(t):
                a["layer"] = np.asarray(names, dtype=f"U{width}")[layer]
            self._spikes = a
        return self._spikes

    @property
    def probes(self) -> Dict[str, np.ndarray]:
        """``{"component.signal": structured array (time_ns, index, value)}``."""
        if self._probes is None:
            out = {}
            for key, (t, i, v) in self._raw.signals().items():
                a = np.zeros(
                    len(t),
                    dtype=[("time_ns", np.uint64), ("index", np.uint32), ("value", np.float64)],
                )
                a["time_ns"], a["index"], a["value"] = t, i, v
                out[key] = a
            self._probes = out
        return self._probes

    @property
    def energy(self) -> Dict[str, Any]:
        """Energy of the run: ``total_joules``, ``by_class``, ``by_layer``, ``by_kind``,
        ``synaptic_events`` and ``joules_per_synaptic_event``."""
        if self._energy is None:
            self._energy = json.loads(self._raw.energy_json)
        return self._energy

    @property
    def log(self) -> Dict[str, Any]:
        """The protocol log (steps, per-layer counts), with the run's ``energy``."""
        if self._log is None:
            log = json.loads(self._raw.log_json)
            log["energy"] = self.energy
            self._log = log
        return self._log

    def save_weights(self, path: "os.PathLike[str] | str") -> None:
        """Writes every layer's conductances after the run to ``path`` (RON), which a
        layer reloads with ``initial: Saved("path")``."""
        self._raw.save_weights(os.fspath(path))

    def __repr__(self) -> str:
        return (
            f"Result(name={self.name!r}, seed={self.seed}, executor={self.executor!r}, "
            f"spikes={len(self.spikes)}, energy={self.energy['total_joules']:.3e} J)"
        )

    def _repr_html_(self) -> str:
        from html import escape

        e = self.energy
        rows = "".join(
            f"<tr><td>{escape(layer)}</td><td>{int((self.spikes['layer'] == layer).sum())}</td>"
            f"<td>{sum(c.values()):.3e}</td></tr>"
            for layer, c in e["by_layer"].items()
        )
        classes = "".join(
            f"<tr><td>{escape(k.replace('_joules', ''))}</td><td>{v:.3e}</td></tr>"
            for k, v in e["by_class"].items()
        )
        return (
            f"<div><b>memsnn result</b> — {escape(self.name)}, seed {self.seed}, "
            f"{escape(self.executor)} executor, {self.wall_s:.3f} s<br>"
            f"<table><tr><th>layer</th><th>fires</th><th>energy (J)</th></tr>{rows}</table>"
            f"<table><tr><th>class</th><th>energy (J)</th></tr>{classes}</table>"
            f"total {e['total_joules']:.3e} J, {e['synaptic_events']} synaptic events, "
            f"{e['joules_per_synaptic_event']:.3e} J per synaptic event; "
            f"probes: {escape(', '.join(self.probes))}</div>"
        )


class Model:
    """A checked topology (every file it names read and checked once); run it with any
    seed on any executor, as often as wanted."""

    def __init__(self, inner: "_memsnn.Model"):
        self._inner = inner

    @property
    def name(self) -> str:
        """The topology's name."""
        return self._inner.name

    @property
    def path(self) -> str:
        """The file it was loaded from."""
        return self._inner.path

    @property
    def layers(self) -> Dict[str, int]:
        """``{layer: number of neurons}``."""
        return self._inner.layers

    def run(self, seed: int = 1, executor: str = "reference", workers: int = 1) -> Result:
        """Runs the topology's protocol; releases the GIL while it runs.

        ``executor`` is ``"reference"``, ``"sharded"`` or ``"actix"`` (bit-identical
        results); ``workers`` threads for the sharded executor (arbiters for actix).
        Raises :class:`MemsnnError` if the run fails.
        """
        return Result(self._inner.run(seed, executor, workers))

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, path={self.path!r})"


def load(path: "os.PathLike[str] | str") -> Model:
    """Loads and checks the topology file at ``path`` and every file it names.

    Raises :class:`MemsnnError` whose message locates every problem
    (``file:line:col: field `x`: what is wrong — hint: what to do``).
    """
    return Model(_memsnn.load(os.fspath(path)))


def experiments() -> list:
    """The experiment names :func:`reproduce` accepts (groups and ``all`` too)."""
    return list(_memsnn.experiment_names())


def reproduce(
    name: str,
    out: "os.PathLike[str] | str" = "results",
    seed: int = 1,
    **options: Any,
) -> Dict[str, Any]:
    """Regenerates a paper experiment (as ``memsnn reproduce NAME``) into ``out/NAME/`` and
    returns its ``summary.json`` as a dict; a group (``devices``, ``network``, ``all``...)
    returns ``{experiment: summary}``.

    Options are the command line's: ``trials``, ``patterns``, ``noise_pixels`` (list of
    int), ``protocol``, ``device``, and for ``mnist``: ``data``, ``neurons``, ``train``,
    ``test``, ``epochs``, ``coding`` (``"binary"``/``"rate"``), ``mnist_protocol``,
    ``executor``, ``workers``. Releases the GIL while it runs.
    """
    for key in ("patterns", "protocol", "device", "data", "mnist_protocol"):
        if options.get(key) is not None:
            options[key] = os.fspath(options[key])
    texts = _memsnn.reproduce(name, os.fspath(out), seed, options)
    summaries = {k: json.loads(v) for k, v in texts.items()}
    if len(summaries) == 1 and name in summaries:
        return summaries[name]
    return summaries
