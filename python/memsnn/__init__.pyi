"""Type stubs of the memsnn Python package."""

import os
from typing import Any, Dict, List

import numpy as np

__version__: str
EXECUTORS: tuple

class MemsnnError(Exception):
    """A file has problems (each located: file:line:col, field, what to do), or a run or
    experiment failed."""

class Result:
    """What one run of a model produced."""

    @property
    def name(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def executor(self) -> str: ...
    @property
    def wall_s(self) -> float: ...
    @property
    def spikes(self) -> np.ndarray:
        """Structured array: ``time_ns`` (uint64), ``layer`` (str), ``neuron`` (uint32)."""
    @property
    def probes(self) -> Dict[str, np.ndarray]:
        """``{"component.signal": structured array (time_ns, index, value)}``."""
    @property
    def log(self) -> Dict[str, Any]: ...
    @property
    def energy(self) -> Dict[str, Any]: ...
    def save_weights(self, path: "os.PathLike[str] | str") -> None: ...
    def _repr_html_(self) -> str: ...

class Model:
    """A checked topology."""

    @property
    def name(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def layers(self) -> Dict[str, int]: ...
    def run(self, seed: int = 1, executor: str = "reference", workers: int = 1) -> Result: ...

def load(path: "os.PathLike[str] | str") -> Model: ...
def experiments() -> List[str]: ...
def reproduce(
    name: str,
    out: "os.PathLike[str] | str" = "results",
    seed: int = 1,
    **options: Any,
) -> Dict[str, Any]: ...
