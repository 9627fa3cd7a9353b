"""Type stubs of the Rust extension module (wrapped by ``memsnn``)."""

from typing import Dict, List, Tuple

import numpy as np

__version__: str

class MemsnnError(Exception): ...

class RawResult:
    log_json: str
    energy_json: str
    seed: int
    executor: str
    workers: int
    wall_s: float
    name: str
    def fires(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray, List[str]]: ...
    def signals(self) -> Dict[str, Tuple[np.ndarray, np.ndarray, np.ndarray]]: ...
    def save_weights(self, path: str) -> None: ...

class Model:
    name: str
    path: str
    layers: Dict[str, int]
    def run(self, seed: int = 1, executor: str = "reference", workers: int = 1) -> RawResult: ...

def load(path: str) -> Model: ...
def experiment_names() -> List[str]: ...
def reproduce(name: str, out: str, seed: int, options: dict) -> Dict[str, str]: ...
