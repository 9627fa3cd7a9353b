#!/usr/bin/env python3
"""Expected wall time of memsnn's MPI executor on a cluster (docs/distributed.md).

    python3 docs/scripts/distributed_model.py

A run of R ranks alternates work and rounds. Per simulated second:

    wall(R) = T_ref * critical(R) / events  +  rounds(R) * t_round(R)

* T_ref, events: the reference executor's wall time and component events (measured);
* critical(R): the sum over rounds of the most events one partition handled (the work on
  the critical path; measured with the sharded executor, whose rounds are the MPI
  executor's: the protocol is the same, only the transport differs);
* rounds(R): measured the same way;
* t_round(R) = 2 * alpha * ceil(log2 R)     two all-to-alls (counts, then bytes), each
                                            ~log2 R latency-bound steps for small messages
             + bytes(R) / codec            encoding and decoding on rank 0
             + bytes(R) / bandwidth         on the wire
             + s_round                      the round's own software cost (measured here).

alpha, codec and bandwidth are assumptions for a typical cluster interconnect (see the
constants below), not measurements of this machine; everything else is measured on it
(`memsnn bench --executor sharded --workers 2,4,...,64 --size 784x1600,784x6400`,
`mpirun -np 2|4 memsnn bench --executor mpi`).
"""
import math

# Assumed interconnect and codec (InfiniBand HDR-class; a 2-core VM cannot show these).
ALPHA_S = 1.5e-6  # one latency-bound step of an all-to-all, seconds
CODEC_BYTES_PER_S = 1.0e9  # postcard encode + decode of round messages (assumed)
BANDWIDTH_BYTES_PER_S = 12.5e9  # 100 Gb/s

# Measured on this machine (wta_ff 784x6400, 1 s simulated, seed 1).
T_REF_S = 1.39
EVENTS = 6_332_779
# partitions -> (rounds, critical events), sharded executor
MEASURED = {
    2: (4424, 3_177_683),
    4: (4888, 1_594_133),
    8: (5028, 803_107),
    16: (5073, 405_336),
    32: (5016, 207_286),
    64: (4985, 108_160),
}
# Bytes rank 0 sent per round under MPI (measured at 2 and 4 ranks, each input pattern sent
# once per rank; held at the 4-rank value beyond).
BYTES_PER_ROUND = {2: 747, 4: 677}
# Software cost of a round besides the wire: rank 0's measured time in the exchange per
# round at 784x1600 on 2 ranks over shared memory (8 % of 0.274 s over 3,049 rounds),
# waiting for the other rank included: an upper bound.
PER_ROUND_SOFTWARE_S = 7e-6


def t_round(r: int, bytes_per_round: float) -> float:
    """Seconds per round on r ranks."""
    latency = 2 * ALPHA_S * math.ceil(math.log2(r))
    wire = bytes_per_round / CODEC_BYTES_PER_S + bytes_per_round / BANDWIDTH_BYTES_PER_S
    return latency + PER_ROUND_SOFTWARE_S + wire


def wall(r: int, layers: int = 1) -> tuple[float, float, float]:
    """(work, rounds, total) seconds per simulated second for `layers` independent
    784x6400 layers sharing one input, on r ranks."""
    if r == 1:
        w = T_REF_S * layers
        return w, 0.0, w
    rounds, critical = MEASURED[r]
    work = T_REF_S * layers * critical / EVENTS
    # Independent layers fire at their own instants: with the delta-only lookahead every
    # rank takes part in every round, so their rounds add up (an upper bound), each round
    # carrying one layer's share of the bytes.
    b = BYTES_PER_ROUND.get(r, BYTES_PER_ROUND[4])
    comm = rounds * layers * t_round(r, b / layers)
    return work, comm, work + comm


def main() -> None:
    print("784x6400 (5.0e6 synapses), one simulated second")
    print("ranks  work_s  rounds_s  total_s  speed-up")
    for r in [1, 2, 4, 8, 16, 32, 64]:
        w, c, t = wall(r)
        print(f"{r:5d}  {w:6.3f}  {c:8.3f}  {t:7.3f}  {T_REF_S / t:6.1f}x")
    print()
    print("20 such layers sharing one input (1.0e8 synapses), one simulated second")
    print("ranks  work_s  rounds_s  total_s  speed-up")
    for r in [1, 2, 4, 8, 16, 32, 64]:
        w, c, t = wall(r, layers=20)
        print(f"{r:5d}  {w:6.2f}  {c:8.2f}  {t:7.2f}  {20 * T_REF_S / t:6.1f}x")


if __name__ == "__main__":
    main()
