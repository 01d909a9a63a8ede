#!/usr/bin/env python3
"""Writes BENCHMARKS.md (to stdout) from one comparison run's JSON lines.

  summarize.py RESULTS.jsonl

Reads dask's lines (as its scripts print them: "median", "params", ...) and taskforce's
(`{"bench", "system": "taskforce", "median_s", ...}`) and the driver's "machine" lines.
Each workload row: dask's median (the better of its default and queuing-off settings where
both were measured), taskforce's median, the speedup (dask / taskforce for times; the
reverse for rates), the floor measured in the same run where one exists, the target of
issue 17 and whether it is met. A workload one side did not report shows "-".
Standard library only, so it runs with any python3.
"""

import json
import sys


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    print(f"summarize.py: skipping a line that is not JSON: {line[:80]}",
                          file=sys.stderr)
    return rows


def pick(rows, system, bench, **fields):
    """Every row of `system` and `bench` whose fields (or params) equal `fields`."""
    out = []
    for r in rows:
        if r.get("system") != system or r.get("bench") != bench:
            continue
        params = r.get("params") or {}
        if all(r.get(k, params.get(k)) == v for k, v in fields.items()):
            out.append(r)
    return out


def best(values, lower_is_better):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return min(values) if lower_is_better else max(values)


def fmt(x, unit):
    if x is None:
        return "-"
    if unit == "s":
        return f"{x:.3f} s" if x >= 0.01 else f"{x * 1e3:.2f} ms"
    if unit == "us":
        return f"{x:,.0f} µs" if x >= 100 else f"{x:.1f} µs"
    if unit == "tasks/s":
        return f"{x:,.0f} tasks/s"
    return f"{x:g} {unit}"


class Row:
    """One workload: how to read each side, its floor and its target."""

    def __init__(self, name, unit, lower, dask, tf, floor=None, target=None):
        self.name, self.unit, self.lower = name, unit, lower
        self.dask, self.tf, self.floor, self.target = dask, tf, floor, target


def median_s(rows):
    return [r.get("median_s", r.get("median")) for r in rows]


def sizes(rows, system, bench, key, pkey):
    found = set()
    for r in rows:
        if r.get("system") == system and r.get("bench") == bench:
            v = r.get(key, (r.get("params") or {}).get(pkey))
            if v is not None:
                found.add(v)
    return sorted(found)


def workloads(rows):
    """The table's rows, in the issue's order."""
    out = [
        Row("roundtrip submit→result", "us", True,
            lambda: [r.get("per_call_us_median") for r in pick(rows, "dask", "roundtrip_latency")],
            lambda: [r.get("median_us") for r in pick(rows, "taskforce", "roundtrip")],
            floor=lambda: [m * 1e6 for m in median_s(pick(rows, "taskforce", "tcp_floor_two_round_trips"))],
            target=("≤ 1/50 of dask and ≤ 1.3× the floor", 50, 1.3)),
    ]
    ns = sorted(set(sizes(rows, "taskforce", "independent_tasks", "n", "N"))
                | set(sizes(rows, "dask", "task_throughput_independent", "n", "N")))
    for n in ns:
        out.append(Row(f"independent tasks, {n:,}", "tasks/s", False,
                       lambda n=n: [r.get("tasks_per_s") for r in pick(rows, "dask", "task_throughput_independent", N=n)],
                       lambda n=n: [r.get("tasks_per_s") for r in pick(rows, "taskforce", "independent_tasks", n=n)],
                       target=("≥ 250,000 tasks/s and ≥ 100× dask", 100, ("rate", 250_000))))
    chain = sizes(rows, "taskforce", "chain", "n", "chain_length") or [2000]
    out += [
        Row(f"chain of {chain[0]:,} (per task)", "us", True,
            lambda: [r.get("us_per_task") for r in pick(rows, "dask", "task_throughput_chain")],
            lambda: [r.get("us_per_task") for r in pick(rows, "taskforce", "chain")],
            target=("≥ 60× dask", 60, None)),
        Row("seed sum, futures holding the arrays", "s", True,
            lambda: median_s(pick(rows, "dask", "seed_array_sum_futures", variant="hold")),
            lambda: median_s(pick(rows, "taskforce", "seed_array_sum_futures", variant="hold")),
            target=("≥ 5× dask", 5, None)),
        Row("seed sum, futures dropping the arrays", "s", True,
            lambda: median_s(pick(rows, "dask", "seed_array_sum_futures", variant="del")),
            lambda: median_s(pick(rows, "taskforce", "seed_array_sum_futures", variant="del")),
            target=("≥ 5× dask", 5, None)),
        Row("seed sum, Array (dask.array) on the cluster", "s", True,
            lambda: median_s(pick(rows, "dask", "seed_array_sum_dask_array", scheduler="distributed")),
            lambda: median_s(pick(rows, "taskforce", "seed_array_sum_array", variant="cluster")),
            floor=lambda: median_s(pick(rows, "taskforce", "seed_array_sum_array", variant="rayon 2 threads")),
            target=("≥ 5× dask and ≤ 1.3× the rayon floor", 5, 1.3)),
        Row("tree reduction of 16 × 1e6", "s", True,
            lambda: median_s(pick(rows, "dask", "seed_tree_reduction")),
            lambda: median_s(pick(rows, "taskforce", "seed_tree_reduction"))),
        Row("big graph: ones(n×n, 100×100 chunks).sum()", "s", True,
            lambda: median_s(pick(rows, "dask", "big_graph")),
            lambda: median_s(pick(rows, "taskforce", "big_graph_sum")),
            target=("≥ 100× dask (same array, time)", 100, None)),
        Row("Bag read_text + filter + count", "s", True,
            lambda: median_s(pick(rows, "dask", "bag_filter_count")),
            lambda: median_s(pick(rows, "taskforce", "bag_filter_count")),
            floor=lambda: median_s(pick(rows, "taskforce", "scan_filter_count")),
            target=("≥ 10× dask", 10, None)),
        Row("Bag split + frequencies + topk(10)", "s", True,
            lambda: median_s(pick(rows, "dask", "bag_frequencies")),
            lambda: median_s(pick(rows, "taskforce", "bag_frequencies")),
            target=("≥ 5× dask", 5, None)),
        Row("cluster startup to ready", "s", True,
            lambda: median_s(pick(rows, "dask", "cluster_startup")),
            lambda: median_s(pick(rows, "taskforce", "cluster_startup")),
            target=("≤ 1/20 of dask", 20, None)),
        Row("200 × 50 ms tasks, no failure", "s", True,
            lambda: median_s(pick(rows, "dask", "worker_failure_recovery", failure="none")),
            lambda: median_s(pick(rows, "taskforce", "worker_failure_recovery", failure="none"))),
        Row("200 × 50 ms tasks, a worker killed halfway", "s", True,
            lambda: median_s(pick(rows, "dask", "worker_failure_recovery", failure="sigkill_1_worker_at_50pct")),
            lambda: median_s(pick(rows, "taskforce", "worker_failure_recovery", failure="sigkill_1_worker_at_50pct"))),
        Row("200 tasks, every tenth 200 ms, the rest 5 ms (makespan)", "s", True,
            lambda: median_s(pick(rows, "dask", "stealing_uneven")),
            lambda: median_s(pick(rows, "taskforce", "stealing_uneven")),
            floor=lambda: [r.get("ideal_s") for r in pick(rows, "taskforce", "stealing_uneven")],
            target=("≤ 1.02× the ideal (the floor)", 0, 1.02)),
        Row("40 × 50 ms tasks reading one worker's value (makespan)", "s", True,
            lambda: median_s(pick(rows, "dask", "stealing_locality")),
            lambda: median_s(pick(rows, "taskforce", "stealing_locality")),
            floor=lambda: [r.get("ideal_s") for r in pick(rows, "taskforce", "stealing_locality")]),
    ]
    return out


def stealing_lines(rows):
    """How busy each worker was in the stealing workloads' median runs (both, when
    stealing works)."""
    out = []
    for bench in ("stealing_uneven", "stealing_locality"):
        for system in ("dask", "taskforce"):
            for r in pick(rows, system, bench):
                busy = " / ".join(f"{b:.2f} s" for b in r.get("busy_s", []))
                tasks = " / ".join(str(t) for t in r.get("tasks_per_worker", []))
                out.append(f"- {bench}, {system}: {r.get('over_ideal')}× the ideal; "
                           f"tasks per worker {tasks}; busy {busy}")
    return out


def judge(row, d, t, floor):
    """The target's text and whether it is met ("yes", "no", or "-" when unmeasured)."""
    if row.target is None:
        return "-", "-"
    text, times_dask, second = row.target
    if d is None or t is None:
        return text, "-"
    speedup = d / t if row.lower else t / d
    met = speedup >= times_dask
    if isinstance(second, tuple):  # an absolute rate
        met = met and t >= second[1]
    elif second is not None:  # a multiple of the floor
        if floor is None:
            return text, "-"
        met = met and t <= second * floor
    return text, "yes" if met else "no"


def machine_lines(rows):
    out = []
    for m in (r for r in rows if r.get("bench") == "machine"):
        out.append(f"- {m['when']}: {m['date']}, `nproc` {m['nproc']}, {m['model']}, "
                   f"load average {m['loadavg']}, commit {m.get('commit')}")
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: summarize.py RESULTS.jsonl")
    rows = load(sys.argv[1])
    quick = any(r.get("quick") for r in rows if r.get("bench") == "machine")
    dask_env = next((r["env"] for r in rows if r.get("system") == "dask" and "env" in r), {})
    print("# Benchmarks: taskforce beside dask.distributed\n")
    print("Written by `benches/compare/run`" + (" --quick (fewer runs, smaller sizes: "
          "a trial, not a measurement)" if quick else "") + " from one run on one machine; "
          "every figure is a median of several runs. Both sides run on a local cluster of 2 "
          "worker processes × 1 thread. *Speedup* is dask / taskforce for times and "
          "taskforce / dask for rates (above 1: taskforce is faster). dask's figure is the "
          "better of its default and its queuing-off (`worker-saturation: inf`) settings where "
          "both were measured. Floors are measured in the same run: two bare loopback TCP "
          "round trips (roundtrip), a two-thread rayon loop over the same generator (seed "
          "sum), a two-thread scan of the same files (Bag count).\n")
    print("| workload | dask | taskforce | speedup | floor | target (issue 17) | met |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in workloads(rows):
        d = best(row.dask(), row.lower)
        t = best(row.tf(), row.lower)
        floor = best(row.floor(), True) if row.floor else None
        if d is None and t is None:
            continue
        speedup = "-"
        if d is not None and t is not None and d > 0 and t > 0:
            speedup = f"{(d / t if row.lower else t / d):,.1f}×"
        text, met = judge(row, d, t, floor)
        print(f"| {row.name} | {fmt(d, row.unit)} | {fmt(t, row.unit)} | {speedup} | "
              f"{fmt(floor, row.unit)} | {text} | {met} |")
    stealing = stealing_lines(rows)
    if stealing:
        print("\n## Work stealing: how busy each worker was\n")
        for line in stealing:
            print(line)
    print("\n## Machine\n")
    for line in machine_lines(rows):
        print(line)
    if dask_env:
        print(f"- dask {dask_env.get('dask')}, distributed {dask_env.get('distributed')}, "
              f"numpy {dask_env.get('numpy')}, python {dask_env.get('python')}")
    print("\nAbsolute figures drift between runs on a shared machine: compare within one run. "
          "Regenerate with `benches/compare/run` (see its `--help`).")


if __name__ == "__main__":
    main()
