"""Bin packing of file sizes into messages: fewest messages, order kept where it costs nothing.

A job has at most 10 images (the API's n), so an exact search is cheap; a node budget keeps
larger inputs bounded, falling back to first-fit decreasing.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

Groups = list[list[int]]
NODE_BUDGET = 20_000  # ~20 ms of search at worst; 10 files never come close (tests)


def pack(sizes: Sequence[int], capacity: int, max_files: int) -> Groups:
    """Indices of `sizes` grouped into the fewest bins (bytes <= capacity, <= max_files each).

    Every size must be <= capacity. The in-order split wins when it is as short as the best.
    """
    if not sizes:
        return []
    in_order = next_fit(sizes, capacity, max_files)
    bound = lower_bound(sizes, capacity, max_files)
    if len(in_order) == bound:
        return in_order
    best = first_fit_decreasing(sizes, capacity, max_files)
    if len(best) > bound:
        best = _search(sizes, capacity, max_files, best, bound)
    if len(best) >= len(in_order):
        return in_order
    # Sensible order: each message lists its files in order, messages by their first file.
    return sorted((sorted(group) for group in best), key=lambda group: group[0])


def next_fit(sizes: Sequence[int], capacity: int, max_files: int) -> Groups:
    """Fill messages in order; for an in-order split this greedy is optimal."""
    groups: Groups = [[]]
    load = 0
    for index, size in enumerate(sizes):
        if groups[-1] and (load + size > capacity or len(groups[-1]) == max_files):
            groups.append([])
            load = 0
        groups[-1].append(index)
        load += size
    return groups


def lower_bound(sizes: Sequence[int], capacity: int, max_files: int) -> int:
    """No packing can use fewer bins: by bytes, by file count, and by files over half full."""
    by_bytes = math.ceil(sum(sizes) / capacity)
    by_count = math.ceil(len(sizes) / max_files)
    big = sum(1 for size in sizes if 2 * size > capacity)  # no two of these share a bin
    return max(by_bytes, by_count, big)


def first_fit_decreasing(sizes: Sequence[int], capacity: int, max_files: int) -> Groups:
    """Largest first, each into the first bin with room (bytes and count)."""
    groups: Groups = []
    loads: list[int] = []
    for index in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        for bin_index, group in enumerate(groups):
            if loads[bin_index] + sizes[index] <= capacity and len(group) < max_files:
                group.append(index)
                loads[bin_index] += sizes[index]
                break
        else:
            groups.append([index])
            loads.append(sizes[index])
    return groups


class _Stop(Exception):
    """Ends the search: the lower bound was reached or the node budget spent."""


def _search(
    sizes: Sequence[int], capacity: int, max_files: int, best: Groups, bound: int
) -> Groups:
    """Branch and bound over bins, largest files first; returns `best` if nothing beats it."""
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i])
    groups: Groups = []
    loads: list[int] = []
    found = best
    nodes = 0

    def place(position: int, remaining: int) -> None:
        nonlocal found, nodes
        nodes += 1
        if nodes > NODE_BUDGET:
            raise _Stop
        free = sum(capacity - load for load in loads)
        if len(groups) + max(0, math.ceil((remaining - free) / capacity)) >= len(found):
            return  # cannot beat what we have
        if position == len(order):
            found = [list(group) for group in groups]
            if len(found) == bound:
                raise _Stop
            return
        index = order[position]
        size = sizes[index]
        tried: set[tuple[int, int]] = set()
        for bin_index, group in enumerate(groups):
            state = (loads[bin_index], len(group))
            if state in tried or state[0] + size > capacity or state[1] >= max_files:
                continue  # bins in the same state lead to the same subtrees
            tried.add(state)
            group.append(index)
            loads[bin_index] += size
            place(position + 1, remaining - size)
            loads[bin_index] -= size
            group.pop()
        groups.append([index])
        loads.append(size)
        place(position + 1, remaining - size)
        loads.pop()
        groups.pop()

    with contextlib.suppress(_Stop):
        place(0, sum(sizes))
    return found
