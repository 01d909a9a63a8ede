"""Work stealing on dask.distributed, beside taskforce's examples/bench_stealing.rs.

  stealing_uneven    200 tasks, every tenth sleeps 200 ms and the rest 5 ms (ideal 2.45 s
                     on 2 threads)
  stealing_locality  one value made on one worker, then 40 tasks of 50 ms reading it
                     (ideal 1 s): locality sends them all to its holder

Each task returns its worker's pid and how long it slept, so the line reports how busy
each worker was. A brand-new LocalCluster (2 processes x 1 thread) per run; its start is
not timed. Timed from the first submit to the last result. Prints one JSON line per
workload, in taskforce's format ("median_s", "runs_s", "ideal_s", "over_ideal", "busy_s",
"tasks_per_worker"), with dask's versions under "env".

Run from the folder holding the dask baseline's common.py (the driver copies both there).
"""

import json
import os
import statistics
import sys
import time

from distributed import Client, LocalCluster

import common

RUNS = 3


def sleep_for(i, seconds):
    time.sleep(seconds)
    return os.getpid(), seconds


def payload(n):
    return b"\x07" * n


def read_then_sleep(data, i, seconds):
    len(data)
    time.sleep(seconds)
    return os.getpid(), seconds


def uneven(client):
    started = time.perf_counter()
    futures = [client.submit(sleep_for, i, 0.2 if i % 10 == 0 else 0.005, pure=False)
               for i in range(200)]
    results = client.gather(futures)
    return time.perf_counter() - started, results


def locality(client):
    data = client.submit(payload, 1024)
    data.result()
    started = time.perf_counter()
    futures = [client.submit(read_then_sleep, data, i, 0.05, pure=False) for i in range(40)]
    results = client.gather(futures)
    return time.perf_counter() - started, results


def main():
    workloads = [("stealing_uneven", uneven, (20 * 0.2 + 180 * 0.005) / 2),
                 ("stealing_locality", locality, 40 * 0.05 / 2)]
    for bench, workload, ideal in workloads:
        runs = []
        for run in range(RUNS):
            with LocalCluster(**common.CLUSTER_KW) as cluster, Client(cluster) as client:
                client.wait_for_workers(2)
                seconds, results = workload(client)
            per_worker = {}
            for pid, slept in results:
                tasks, busy = per_worker.get(pid, (0, 0.0))
                per_worker[pid] = (tasks + 1, busy + slept)
            print(f"{bench} run {run}: {seconds:.3f} s ({seconds / ideal:.3f}x the ideal); "
                  f"per worker: {sorted(per_worker.values())}", file=sys.stderr)
            runs.append((seconds, per_worker))
        runs.sort(key=lambda r: r[0])
        median_s, per_worker = runs[len(runs) // 2]
        workers = sorted(per_worker)
        print(json.dumps({
            "bench": bench, "system": "dask", "median_s": round(median_s, 4),
            "runs_s": [round(r[0], 4) for r in runs], "ideal_s": ideal,
            "over_ideal": round(median_s / ideal, 3),
            "busy_s": [round(per_worker[w][1], 3) for w in workers],
            "tasks_per_worker": [per_worker[w][0] for w in workers],
            "median": statistics.median(r[0] for r in runs), "env": common.env()}), flush=True)


if __name__ == "__main__":
    main()
