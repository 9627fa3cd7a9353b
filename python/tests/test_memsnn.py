"""Tests of the Python package: the same spikes on every executor, arrays and dicts of a
run, the located error path, saved weights, the GIL released while running, reproduce."""

import json
import threading
from pathlib import Path

import numpy as np
import pytest

import memsnn

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGIES = ROOT / "topologies"


@pytest.fixture(scope="module")
def fig3b():
    return memsnn.load(TOPOLOGIES / "fig3b.ron")


@pytest.mark.parametrize("name", ["fig3b.ron", "propagation.ron"])
def test_identical_spikes_on_every_executor(name):
    model = memsnn.load(TOPOLOGIES / name)
    reference = model.run(seed=3, executor="reference")
    assert len(reference.spikes) > 0
    for executor, workers in [("sharded", 1), ("sharded", 2), ("actix", 1)]:
        other = model.run(seed=3, executor=executor, workers=workers)
        np.testing.assert_array_equal(other.spikes, reference.spikes)
        assert other.energy == reference.energy
        assert other.log == reference.log


def test_spikes_probes_log_and_energy(fig3b):
    r = fig3b.run(seed=1)
    s = r.spikes
    assert s.dtype.names == ("time_ns", "layer", "neuron")
    assert s.dtype["time_ns"] == np.uint64
    assert np.all(np.diff(s["time_ns"].astype(np.int64)) > 0)
    assert set(s["layer"]) == {"neuron"} and set(s["neuron"]) == {0}
    # The fires are the protocol log's count.
    assert len(s) == r.log["layers"]["neuron"]["fires"]
    # Probes: one structured array per probed signal.
    assert any(k.endswith(".v_node1") for k in r.probes), list(r.probes)
    for a in r.probes.values():
        assert a.dtype.names == ("time_ns", "index", "value")
    e = r.energy
    assert e["total_joules"] > 0
    assert e["total_joules"] == pytest.approx(sum(e["by_class"].values()), rel=1e-12)
    assert e["total_joules"] == pytest.approx(sum(e["by_kind"].values()), rel=1e-12)
    assert r.log["energy"] == e
    html = r._repr_html_()
    assert "fig3b" in html and "synapse_read" in html
    # Different seeds, different devices: a different fire train.
    assert not np.array_equal(fig3b.run(seed=2).spikes, s)


def test_errors_are_located(tmp_path):
    bad = tmp_path / "bad.ron"
    text = (TOPOLOGIES / "fig3b.ron").read_text()
    bad.write_text(text.replace("neurons: 1,", "neurons: 0,"))
    with pytest.raises(memsnn.MemsnnError) as info:
        memsnn.load(bad)
    msg = str(info.value)
    line = next(i for i, l in enumerate(bad.read_text().splitlines(), 1) if "neurons: 0" in l)
    assert f"bad.ron:{line}:" in msg, msg
    assert "neurons" in msg
    with pytest.raises(memsnn.MemsnnError):
        memsnn.load(tmp_path / "missing.ron")
    with pytest.raises(memsnn.MemsnnError, match="executor"):
        memsnn.load(TOPOLOGIES / "fig3b.ron").run(executor="gpu")


def test_saved_weights_reload(fig3b, tmp_path):
    r = fig3b.run(seed=1)
    w = tmp_path / "w.ron"
    r.save_weights(w)
    assert "siemens" in w.read_text()
    # A copy of the topology whose layer starts from them loads and runs.
    text = (TOPOLOGIES / "fig3b.ron").read_text()
    topo = tmp_path / "restored.ron"
    topo.write_text(
        text.replace("initial: Matrix([[100.0e-6, 25.0e-6]]),", f'initial: Saved("{w}"),')
        .replace('"patterns/pair_1x2.ron"', f'"{TOPOLOGIES / "patterns/pair_1x2.ron"}"')
    )
    again = memsnn.load(topo).run(seed=1)
    np.testing.assert_array_equal(again.spikes, r.spikes)


def test_the_gil_is_released_while_running():
    model = memsnn.load(TOPOLOGIES / "wta_ff" / "784x400.ron")
    done = []
    t = threading.Thread(target=lambda: done.append(model.run(seed=1)))
    t.start()
    ticks = 0
    while t.is_alive():
        ticks += 1
    t.join()
    assert done and done[0].log["layers"]["wta"]["fires"] > 0
    # With the GIL held for the whole run this thread could not have looped meanwhile.
    assert ticks > 10, ticks


def test_reproduce_returns_the_summary(tmp_path):
    summary = memsnn.reproduce("fig3b", out=tmp_path, seed=1)
    assert summary["experiment"] == "fig3b"
    on_disk = json.loads((tmp_path / "fig3b" / "summary.json").read_text())
    assert summary == on_disk
    assert "fig3b" in memsnn.experiments()
    with pytest.raises(TypeError, match="unknown option"):
        memsnn.reproduce("fig3b", out=tmp_path, tirals=3)
    with pytest.raises(memsnn.MemsnnError):
        memsnn.reproduce("no-such-experiment", out=tmp_path)
