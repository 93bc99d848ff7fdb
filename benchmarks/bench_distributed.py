"""Epoch time of the fit on a Dask LocalCluster of 1, 2 and 4 workers, against one process.

Each configuration runs in a fresh child process: the local fit (all cores, and one BLAS
thread), or a LocalCluster of W worker processes with one thread each, X split into W
equal chunks, one per worker. The epoch time is the difference of the solver's time in
fits of 4 and 1 epochs (tol=0, the same seed), over 3, so the set-up cancels. The
solver's time is the wall time of the solver loop that every fit calls,
``sklearn_interp._solver.run_sgd``, wrapped while the fits run (``solver_calls``: a
``unittest.mock.patch.object``, so it is always restored). Whole-fit times would need no
wrapping, but their difference also carries the variation of the set-up (a subsample
eigendecomposition, and on a cluster the shards' creation), which is several epochs
long at small n: it made the epoch time negative at n = 1000 on a busy machine.

Per SGD step the sharded evaluator counts the wall time of its round trip to all shards
and the slowest shard's compute time (its ``n_steps``, ``step_seconds`` and
``shard_seconds``, read from the evaluator the fit passes to the solver loop); their
difference is the communication (serialization, transport, scheduling of the actor
calls) per step. An empty round trip to all shards gives the latency alone. From these
measurements the script writes the cost model's estimate for larger n and clusters.

    python benchmarks/bench_distributed.py [--n 20000] [--repeats 3] [--workers 1 2 4]
"""

import time
from contextlib import contextmanager
from unittest import mock

import numpy as np
from _common import (
    argument_parser,
    command_line,
    dataset_path,
    fixed_epochs_fit,
    in_child,
    machine_info,
    median_of,
    write_report,
)

EPOCHS = 4
LATENCY_CALLS = 50
DEFAULT_REPEATS = 3
BYTES = 8  # float64
# What ShardedEvaluator counts over a fit's steps.
EVALUATOR_COUNTERS = ("n_steps", "step_seconds", "shard_seconds")

# The estimate's cluster: workers of one core each at the measured per-worker speed,
# 10 Gbit/s links (1.25e9 bytes/s), the measured latency per round trip, and the
# default memory budget for kernel blocks (scikit-learn's working_memory, 1 GiB).
ESTIMATE_BANDWIDTH = 1.25e9
ESTIMATE_SIZES = [(10**6, 16), (10**6, 64), (10**7, 64), (10**7, 256)]
ESTIMATE_BUDGET = 2**30
ESTIMATE_SUBSAMPLE = 12000  # EigenPro 2.0's s beyond 100k points
ESTIMATE_COMPONENTS = 512


def epoch_seconds(X, y, n_centers=None):
    """The solver's time per epoch from fits of EPOCHS and 1 epochs; the solver calls
    (with the evaluator's counters, where it has them) and the longer fit's model."""
    with solver_calls() as calls:
        fixed_epochs_fit(X, y, 1, n_centers=n_centers)
        _, model = fixed_epochs_fit(X, y, EPOCHS, n_centers=n_centers)
    first, last = calls
    return (last["seconds"] - first["seconds"]) / (EPOCHS - 1), calls, model


@contextmanager
def solver_calls():
    """Record every call of the solver loop that fits make, while in the context.

    Yields a list that gets, per call, its wall time (``seconds``) and the evaluator's
    EVALUATOR_COUNTERS where it has them (the sharded evaluator does).
    """
    from sklearn_interp import _solver

    real = _solver.run_sgd
    calls = []

    def recorded(evaluator, *args, **kwargs):
        start = time.perf_counter()
        result = real(evaluator, *args, **kwargs)
        calls.append(
            {
                "seconds": time.perf_counter() - start,
                **{
                    name: getattr(evaluator, name)
                    for name in EVALUATOR_COUNTERS
                    if hasattr(evaluator, name)
                },
            }
        )
        return result

    with mock.patch.object(_solver, "run_sgd", recorded):
        yield calls


def measure_local(path, threads, n_centers=None):
    from threadpoolctl import threadpool_limits

    data = np.load(path)
    with threadpool_limits(limits=threads, user_api="blas"):
        epoch, _, model = epoch_seconds(data["X_train"], data["y_train"], n_centers)
    return {
        "epoch_s": epoch,
        "batch_size": model.batch_size_,
        "n_components": model.n_components_,
    }


def measure_cluster(path, n_workers, n_centers=None):
    import dask.array as da
    from distributed import Client, LocalCluster

    from sklearn_interp._distributed import ShardedPoints

    data = np.load(path)
    X, y = data["X_train"], data["y_train"]
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        workers = sorted(client.scheduler_info()["workers"])
        bounds = np.linspace(0, len(X), n_workers + 1).astype(int)
        parts = [
            da.from_delayed(
                client.scatter(X[a:b], workers=[worker], hash=False),
                (b - a, X.shape[1]),
                X.dtype,
            )
            for a, b, worker in zip(bounds[:-1], bounds[1:], workers, strict=True)
        ]
        X_dask = da.concatenate(parts)
        epoch, calls, model = epoch_seconds(X_dask, y, n_centers)

        # Latency: an empty call to every shard at once, as a step does.
        latencies = []
        with ShardedPoints(
            X_dask,
            model._kernel(),
            targets=da.zeros((len(X), 1), chunks=(X_dask.chunks[0], 1)),
            alpha=0.0,
        ) as points:
            for _ in range(LATENCY_CALLS):
                start = time.perf_counter()
                points._call("diagonal_max")
                latencies.append(time.perf_counter() - start)

    first, last = calls
    steps = last["n_steps"] - first["n_steps"]
    step_s = last["step_seconds"] - first["step_seconds"]
    shard_s = last["shard_seconds"] - first["shard_seconds"]
    return {
        "epoch_s": epoch,
        "batch_size": model.batch_size_,
        "n_components": model.n_components_,
        "steps_per_epoch": steps / (EPOCHS - 1),
        "round_trip_ms": 1e3 * step_s / steps,
        "shard_compute_ms": 1e3 * shard_s / steps,
        "communication_ms": 1e3 * (step_s - shard_s) / steps,
        "driver_ms": 1e3 * ((EPOCHS - 1) * epoch - step_s) / steps,
        "latency_ms": 1e3 * float(np.median(latencies)),
    }


def estimates(d, c, flops_per_worker, latency_s):
    """Epoch time of the cost model for ESTIMATE_SIZES, with the batch size bounded by
    the memory budget of one kernel block against a worker's shard."""
    rows = []
    for n, workers in ESTIMATE_SIZES:
        shard = n / workers
        batch = int(min(ESTIMATE_BUDGET // (shard * BYTES * 2), 10000))
        steps = n / batch
        compute = 2.0 * n * n * (d + c) / (workers * flops_per_worker)
        # Per step, through the driver: X_B out to every worker, the next batch's rows
        # in from their owners, the residual parts in, the updates (batch and
        # subsample) out to their owners.
        step_bytes = BYTES * (
            (workers + 1) * batch * d
            + workers * batch * c
            + (batch + ESTIMATE_SUBSAMPLE) * c
        )
        communication = steps * (latency_s + step_bytes / ESTIMATE_BANDWIDTH)
        driver = steps * 2.0 * batch * ESTIMATE_SUBSAMPLE * (d + c) / flops_per_worker
        memory = (
            shard * (2 * (d + 2) + 4 * c) * BYTES + ESTIMATE_BUDGET
        ) / 2**30  # X, its prepared copy, Y, coef (x3), one kernel block
        rows.append(
            {
                "n": n,
                "workers": workers,
                "batch": batch,
                "steps": steps,
                "compute_s": compute,
                "communication_s": communication,
                "driver_s": driver,
                "epoch_s": compute + communication + driver,
                "memory_per_worker_gb": memory,
                "driver_memory_gb": (
                    3 * n * 8
                    + ESTIMATE_SUBSAMPLE * (d + ESTIMATE_COMPONENTS) * BYTES
                    + batch * ESTIMATE_SUBSAMPLE * BYTES
                )
                / 2**30,
            }
        )
    return rows


def main():
    parser = argument_parser(__doc__, repeats=DEFAULT_REPEATS)
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--dataset", default="classification40")
    parser.add_argument(
        "--centers",
        type=int,
        default=None,
        help="fit n_centers=P (the rows stay on the workers, the centers with the "
        "driver); the report is distributed_centers, without the cost-model estimate",
    )
    args = parser.parse_args()

    info = machine_info()
    path = dataset_path(args.dataset, args.n)
    data = np.load(path)
    n, d = data["X_train"].shape
    c = len(np.unique(data["y_train"]))
    started = time.perf_counter()

    summaries = {}
    for label, threads in [("local, all cores", None), ("local, 1 thread", 1)]:
        runs = [
            in_child(measure_local, path, threads, args.centers)
            for _ in range(args.repeats)
        ]
        summaries[label] = {key: median_of(runs, key) for key in runs[0]}
        print(label, summaries[label], flush=True)
    for workers in args.workers:
        runs = [
            in_child(measure_cluster, path, workers, args.centers)
            for _ in range(args.repeats)
        ]
        summaries[workers] = {key: median_of(runs, key) for key in runs[0]}
        print(workers, summaries[workers], flush=True)

    base = summaries[args.workers[0]]["epoch_s"] * args.workers[0]
    local = summaries["local, all cores"]["epoch_s"]
    rows = [
        f"| {label} | - | {s['batch_size']:.0f} | {s['epoch_s']:.3f} | - | "
        f"{s['epoch_s'] / local:.2f} | - | - | - | - | - | - |"
        for label, s in summaries.items()
        if isinstance(label, str)
    ]
    for workers in args.workers:
        s = summaries[workers]
        rows.append(
            f"| cluster | {workers} | {s['batch_size']:.0f} | {s['epoch_s']:.3f} | "
            f"**{base / s['epoch_s']:.2f}** | {s['epoch_s'] / local:.2f} | "
            f"{s['steps_per_epoch']:.0f} | {s['round_trip_ms']:.1f} | "
            f"{s['shard_compute_ms']:.1f} | **{s['communication_ms']:.1f}** | "
            f"{s['driver_ms']:.1f} | {s['latency_ms']:.2f} |"
        )

    command = command_line(
        "bench_distributed.py",
        f"--n {args.n}",
        f"--repeats {args.repeats}" if args.repeats != DEFAULT_REPEATS else "",
        f"--workers {' '.join(map(str, args.workers))}",
        f"--centers {args.centers}" if args.centers else "",
    )
    measured = (
        "\n| run | workers | batch | epoch (s) | speed-up | epoch / local epoch "
        "| steps per epoch | round trip per step (ms) | shard compute per step (ms) "
        "| communication per step (ms) | driver per step (ms) | empty round trip (ms) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows)
    )
    if args.centers:
        # The exact model's cluster fits in the same run, for the per-step comparison.
        for workers in args.workers:
            runs = [in_child(measure_cluster, path, workers) for _ in range(args.repeats)]
            exact = {key: median_of(runs, key) for key in runs[0]}
            summaries[f"exact model, {workers}"] = exact
            print("exact", workers, exact, flush=True)
            measured += (
                f"\n| cluster, exact model | {workers} | {exact['batch_size']:.0f} | "
                f"{exact['epoch_s']:.3f} | - | {exact['epoch_s'] / local:.2f} | "
                f"{exact['steps_per_epoch']:.0f} | {exact['round_trip_ms']:.1f} | "
                f"{exact['shard_compute_ms']:.1f} | **{exact['communication_ms']:.1f}** | "
                f"{exact['driver_ms']:.1f} | {exact['latency_ms']:.2f} |"
            )
        _write_centers_report(args, command, info, summaries, measured, started, n, d, c)
        return

    # The speed of one worker (one core), from the 1-worker shards' compute time.
    one = summaries[args.workers[0]]
    flops_per_worker = (
        2.0 * n * n * (d + c) / (one["steps_per_epoch"] * one["shard_compute_ms"] / 1e3)
    ) * args.workers[0]
    latency = max(summaries[w]["latency_ms"] for w in args.workers) / 1e3
    estimated = estimates(d, c, flops_per_worker, latency)
    estimate_rows = [
        f"| {e['n']:.0e} | {e['workers']} | {e['batch']} | {e['steps']:.0f} | "
        f"{e['compute_s']:.0f} | {e['communication_s']:.0f} | {e['driver_s']:.0f} | "
        f"**{e['epoch_s'] / 60:.0f} min** | {e['memory_per_worker_gb']:.2f} | "
        f"{e['driver_memory_gb']:.2f} |"
        for e in estimated
    ]

    intro = (
        f"Medians of {args.repeats} child processes. `{command}` "
        f"({time.perf_counter() - started:.0f} s)\n\n"
        "Epoch time of `InterpolatingKernelClassifier` (difference of the solver's time "
        "in 4- and 1-epoch fits; the driver's time per step is the epoch's time outside "
        "the round trips, over the steps). The cluster has W worker processes of one "
        "thread each on this machine's "
        f"{info['cores']} cores; X is split in W equal chunks, one per worker. "
        "Speed-up is against the first cluster row scaled to one worker; per step: the "
        "driver's round trip to all shards, the slowest shard's compute time within it, "
        "their difference (communication: serialization, transport and the actor "
        "calls), and an empty round trip to all shards (latency)."
    )
    estimate = (
        "\n**Cost-model estimate for larger n.** "
        f"From the measurements above: {flops_per_worker / 1e9:.1f} GFLOP/s per "
        f"one-core worker (the 1-worker shard's kernel blocks), a latency of "
        f"{latency * 1e3:.1f} ms per round trip (the largest measured), and assumed "
        "10 Gbit/s links; d = 40, c = 10, s = 12000, q = 512, a 1 GiB kernel block per "
        "worker (which bounds the batch). An epoch costs "
        "2 n^2 (d + c) / (W F) of kernel products on the workers, n / m steps of "
        "communication (latency plus 8 ((W + 1) m d + W m c + (m + s) c) bytes through "
        "the driver) and the driver's projection 2 m s (d + c) per step. Memory per "
        "worker: its n / W points (X, the kernel's prepared copy, targets and three "
        "coefficient arrays) and one kernel block; the driver holds the batch order "
        "(24 bytes per point), S, U and one m x s block.\n\n"
        "| n | workers | batch | steps per epoch | compute (s) | communication (s) "
        "| driver (s) | epoch | memory per worker (GiB) | driver memory (GiB) |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(estimate_rows)
    )
    write_report(
        "distributed",
        f"Fit on a Dask LocalCluster ({args.dataset}, n = {n}, d = {d}, c = {c}, float64)",
        intro,
        [measured, estimate],
        {
            "n": n,
            "runs": {str(key): value for key, value in summaries.items()},
            "flops_per_worker": flops_per_worker,
            "latency_s": latency,
            "estimates": estimated,
        },
        info,
    )


def _write_centers_report(args, command, info, summaries, measured, started, n, d, c):
    """The report of a run with ``--centers``: the measured table alone."""
    intro = (
        f"Medians of {args.repeats} child processes. `{command}` "
        f"({time.perf_counter() - started:.0f} s)\n\n"
        f"Epoch time of `InterpolatingKernelClassifier(n_centers={args.centers})` "
        "(difference of the solver's time in 4- and 1-epoch fits). On the cluster the "
        "rows stay in the shards and the centers, coefficients and factor with the "
        "driver; a step is two round trips to the shards that own batch rows (the "
        "coefficients out and the residuals with the projection's share back; the "
        "scaled residuals out and the p x c gradient back). Columns as in "
        "`distributed.md`; the round trip per step counts both. The rows 'exact model' "
        "are the same fits without centers in the same run (one round trip per step, "
        "the batch's rows sent to every shard)."
    )
    write_report(
        "distributed_centers",
        f"Fit with {args.centers} centers on a Dask LocalCluster ({args.dataset}, "
        f"n = {n}, d = {d}, c = {c}, float64)",
        intro,
        [measured],
        {
            "n": n,
            "n_centers": args.centers,
            "runs": {str(k): v for k, v in summaries.items()},
        },
        info,
    )


if __name__ == "__main__":
    main()
