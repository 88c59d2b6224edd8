"""Benchmark: deployments a culprit search costs, for n = 1..16 suspects.

For each n: one culprit at each position (max and mean over positions), two culprits (every
pair), and a broken base (staging fails whatever is merged). kcistage's search (the real
kcistage.core.culprit, driven as the engine drives it) is shown next to its budget
ceil(log2 n) + 1 per culprit (+ 1 when "last good" is re-checked) and next to a search that
deploys both halves of a failing batch each round, as bors-ng does (a failing half is split
again, a failing single PR is blamed), with the PRs that search blames wrongly on a broken base.

A second table: the same search with Depends-On among the suspects (a chain, where each PR needs
the one before it in reverse merge order, and pairs forming cycles): n counts a cycle once.

Run: python tests/benchmarks/bench_culprit.py
"""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.core.culprit_sim import simulate  # noqa: E402


def halves(n: int, bad: set[int], broken: bool = False) -> tuple[int, int]:
    """bors-ng style: (deployments, PRs blamed) after the batch of all n failed."""
    deployments, blamed = 0, 0
    failing = [list(range(n))]
    while failing:
        batch = failing.pop(0)
        if len(batch) == 1:
            blamed += 1
            continue
        middle = len(batch) // 2
        for half in (batch[:middle], batch[middle:]):
            deployments += 1
            if broken or bad & set(half):
                failing.append(half)
    return deployments, blamed


def stats(values: list[int]) -> str:
    return f"{max(values):3d} {sum(values) / len(values):5.2f}"


def main() -> None:
    print("Deployments a search makes after the failure, max and mean over culprit positions;")
    print("budget: ceil(log2 n) + 1 per culprit, + 1 when last good is re-checked; kcistage")
    print("blames no PR on a broken base, bors-ng-style halving blames (n) of them.")
    print(f"{'n':>3} {'budget':>6} | {'one culprit':>13} {'bors-ng':>11} | {'two culprits':>13} "
          f"{'bors-ng':>11} | {'broken base':>11} {'bors-ng (blamed)':>16}")
    for n in range(1, 17):
        bound = math.ceil(math.log2(n)) + 1 if n > 1 else 1
        one = [simulate(n, {p}) for p in range(n)]
        assert all(o.blamed == [p] for p, o in enumerate(one))
        one_k = [o.deployments for o in one]
        one_b = [halves(n, {p})[0] for p in range(n)]
        pairs = list(itertools.combinations(range(n), 2))
        if pairs:
            two = [simulate(n, set(pair)) for pair in pairs]
            assert all(o.blamed == list(pair) for pair, o in zip(pairs, two, strict=True))
            two_k = stats([o.deployments for o in two])
            two_b = stats([halves(n, set(pair))[0] for pair in pairs])
        else:
            two_k = two_b = "  -     -"
        base = simulate(n, set(), base_broken=True)
        assert base.blamed == []
        base_b, wrongly = halves(n, set(), broken=True)
        print(f"{n:3d} {bound:4d}+1 | {stats(one_k):>13} {stats(one_b):>11} | {two_k:>13} "
              f"{two_b:>11} | {base.deployments:11d} {base_b:8d} ({wrongly:2d})")


def with_dependencies() -> None:
    print()
    print("With Depends-On: 'chain' = each suspect needs the next one (merge order reversed);")
    print("'cycles' = suspects paired into cycles (n PRs, n/2 suspects); max and mean over the")
    print("position of one faulty PR. Budget per culprit with n counting a cycle once.")
    print(f"{'PRs':>3} | {'chain':>9} {'budget':>6} | {'cycles':>9} {'budget':>6}")
    for n in range(2, 17, 2):
        chain = {i: [i + 1] for i in range(n - 1)}
        runs = [simulate(n, {p}, needs=chain) for p in range(n)]
        assert all(o.blamed == [p] for p, o in enumerate(runs))
        cycles = {i: [i ^ 1] for i in range(n)}
        pairs = [simulate(n, {p}, needs=cycles) for p in range(n)]
        assert all(sorted(o.blamed) == sorted({p, p ^ 1}) for p, o in enumerate(pairs))
        units = n // 2
        chain_bound = math.ceil(math.log2(n)) + 2
        cycle_bound = (math.ceil(math.log2(units)) if units > 1 else 0) + 2
        print(f"{n:3d} | {stats([o.deployments for o in runs]):>9} {chain_bound:6d} | "
              f"{stats([o.deployments for o in pairs]):>9} {cycle_bound:6d}")


if __name__ == "__main__":
    main()
    with_dependencies()
