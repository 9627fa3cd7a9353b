"""memsnn's NIR files against the reference Python implementation (`nir`, PyPI).

Needs the `memsnn` binary (default `target/release/memsnn`, else $MEMSNN_BIN) and the
`nir` package; `.ci/run` installs nir in its virtual environment and runs this file after
`cargo test --release`, which builds the binary. A missing binary fails, never skips.
"""

import json
import os
import pathlib
import subprocess

import nir
import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("MEMSNN_BIN", ROOT / "target" / "release" / "memsnn"))


def memsnn(*args, check=True):
    assert BIN.is_file(), f"{BIN}: build it first (cargo build --release)"
    p = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"memsnn {' '.join(map(str, args))}: {p.stderr}")
    return p


@pytest.mark.parametrize(
    "topology, types",
    [
        ("topologies/fig3b.ron",
         {"in": "Input", "neuron_synapses": "Affine", "neuron": "LIF",
          "neuron_output": "Output"}),
        ("topologies/msnn_30x10x10.ron",
         {"pixels": "Input", "hidden_synapses": "Affine", "hidden": "LIF",
          "hidden_lia": "Affine", "output_synapses": "Affine", "output": "LIF",
          "output_output": "Output"}),
    ],
)
def test_nir_reads_memsnn_exports(tmp_path, topology, types):
    out = tmp_path / "net.nir"
    memsnn("nir", "export", ROOT / topology, "--out", out)
    g = nir.read(out)  # type_check=True: every edge's shapes agree
    assert {k: type(v).__name__ for k, v in g.nodes.items()} == types
    if "hidden" in types:
        assert g.nodes["pixels"].input_type["input"].tolist() == [30]
        assert g.nodes["hidden_synapses"].weight.shape == (10, 30)
        assert g.nodes["output_synapses"].weight.shape == (10, 10)
        assert g.nodes["hidden_lia"].weight.shape == (10, 10)
        assert g.nodes["hidden"].tau.shape == (10,)
        assert ("hidden_lia", "hidden") in g.edges and ("hidden", "hidden_lia") in g.edges
        syn = g.nodes["hidden_synapses"]
        g_siemens = syn.metadata["memsnn_conductance_siemens"]
        assert g_siemens.dtype == np.float32 and g_siemens.shape == (10, 30)
        # weight = G / G_max (980 µS for the built-in 1T1R synapse)
        np.testing.assert_allclose(syn.weight, g_siemens / 980e-6, rtol=1e-6)
        # The neurons' TS device (ts_neuron_hazard: gamma1 = 25 1/s) as LIF tau = 40 ms.
        np.testing.assert_allclose(g.nodes["hidden"].tau, 0.04)
    else:
        assert g.nodes["neuron_synapses"].weight.shape == (1, 2)
    assert "memsnn_topology" in g.metadata


def test_round_trip_through_python_keeps_conductances(tmp_path):
    """memsnn → nir.read → nir.write → memsnn import: the network comes back."""
    first = tmp_path / "a.nir"
    memsnn("nir", "export", ROOT / "topologies/msnn_30x10x10.ron", "--out", first)
    again = tmp_path / "b.nir"
    nir.write(again, nir.read(first))
    memsnn("nir", "import", again, "--out", tmp_path / "back.ron")
    second = tmp_path / "c.nir"
    memsnn("nir", "export", tmp_path / "back.ron", "--out", second)
    a, c = nir.read(first), nir.read(second)
    assert list(a.nodes) == list(c.nodes) and a.edges == c.edges
    for name, node in a.nodes.items():
        if hasattr(node, "weight"):
            assert np.array_equal(node.weight, c.nodes[name].weight)
        if "memsnn_conductance_siemens" in node.metadata:
            x = node.metadata["memsnn_conductance_siemens"]
            y = c.nodes[name].metadata["memsnn_conductance_siemens"]
            assert x.dtype == y.dtype and np.array_equal(x.view(np.uint32), y.view(np.uint32))


def lif_graph(n_in=64, n_out=20, seed=0):
    rng = np.random.default_rng(seed)
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([n_in])),
            "fc": nir.Affine(weight=rng.normal(0, 1, (n_out, n_in)).astype(np.float32),
                             bias=np.zeros(n_out, dtype=np.float32)),
            "lif": nir.LIF(tau=np.full(n_out, 0.01), r=np.ones(n_out),
                           v_leak=np.zeros(n_out), v_threshold=np.ones(n_out)),
            "output": nir.Output(output_type=np.array([n_out])),
        },
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
    )


def test_graph_written_by_nir_imports_validates_and_runs(tmp_path):
    src = tmp_path / "lif64x20.nir"
    nir.write(src, lif_graph())
    top = tmp_path / "lif64x20.ron"
    p = memsnn("nir", "import", src, "--out", top)
    assert "mapped onto hybrid neurons" in p.stdout
    assert "ok:" in memsnn("validate", top).stdout
    memsnn("run", top, "--out", tmp_path / "run")
    log = json.loads((tmp_path / "run" / "log.json").read_text())
    per_neuron = log["layers"]["lif"]["fires_per_neuron"]
    assert len(per_neuron) == 20 and sum(per_neuron) > 0
    # tau = 10 ms is inside the TS devices' span: the leak is matched, gamma1 = 100 1/s.
    ts = (tmp_path / "lif64x20.files" / "lif_ts.ron").read_text()
    assert "gamma1_per_s: 100.0" in ts
    # The export of the imported network is readable by nir again, 65 input lines
    # (64 and the balance line).
    memsnn("nir", "export", top, "--out", tmp_path / "again.nir")
    g = nir.read(tmp_path / "again.nir")
    assert g.nodes["lif_synapses"].weight.shape == (20, 65)


@pytest.mark.parametrize("kind", ["junk", "truncated", "empty", "no_nodes"])
def test_bad_files_exit_1_with_a_clear_error(tmp_path, kind):
    bad = tmp_path / f"{kind}.nir"
    if kind == "junk":
        bad.write_bytes(b"\x00garbage" * 100)
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "truncated":
        good = tmp_path / "good.nir"
        nir.write(good, lif_graph())
        bad.write_bytes(good.read_bytes()[:2000])
    else:
        import h5py
        with h5py.File(bad, "w") as f:
            f.create_dataset("version", data="1.0.8", dtype=h5py.string_dtype())
            f.create_group("node")
    p = memsnn("nir", "import", bad, "--out", tmp_path / "out.ron", check=False)
    assert p.returncode == 1, p.stderr
    assert "panicked" not in p.stderr
    assert p.stderr.startswith("error: ") and f"{kind}.nir" in p.stderr, p.stderr
    assert not (tmp_path / "out.ron").exists()


def test_unsupported_node_is_named(tmp_path):
    g = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([4])),
            "pool": nir.Scale(scale=np.ones(4)),
            "output": nir.Output(output_type=np.array([4])),
        },
        edges=[("input", "pool"), ("pool", "output")],
    )
    src = tmp_path / "scale.nir"
    nir.write(src, g)
    p = memsnn("nir", "import", src, "--out", tmp_path / "o.ron", check=False)
    assert p.returncode == 1
    assert "node `pool` is a `Scale`" in p.stderr, p.stderr
