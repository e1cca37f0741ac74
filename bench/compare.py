#!/usr/bin/env python3
"""pooltop beside its peers, measured in one run, with ratios computed run by run.

    python3 bench/compare.py [--runs 5] [--out BENCHMARKS.md]

Builds pooltop (release), then in every run measures each row once, the
variants of a row back to back, so a ratio compares figures taken under the
same machine load. Writes a markdown table of medians, min-max and same-run
ratios to BENCHMARKS.md (with the machine, the date and the commands).

Peers: Python's multiprocessing.Pool, ProcessPoolExecutor and joblib (if
installed: pip install joblib), xargs, GNU parallel (apt-get install
parallel). Missing peers are skipped with a note.
"""

import argparse
import datetime
import json
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "pooltop")
N_TASKS = 100_000
N_TRUE = 2000
SPIN = 3_000_000_000  # ~0.6 s per task in a release build


def square(n):
    return n * n


def getpid(_):
    return os.getpid()


# ---------------------------------------------------------------- peers (Python)

def py_pool_map_cs1():
    with mp.Pool(2) as pool:
        pool.map(square, range(100))
        t = time.perf_counter()
        pool.map(square, range(N_TASKS), chunksize=1)
        return N_TASKS / (time.perf_counter() - t)


def py_imap_unordered_cs1():
    with mp.Pool(2) as pool:
        pool.map(square, range(100))
        t = time.perf_counter()
        for _ in pool.imap_unordered(square, range(N_TASKS), chunksize=1):
            pass
        return N_TASKS / (time.perf_counter() - t)


def py_pool_map_default():
    with mp.Pool(2) as pool:
        pool.map(square, range(100))
        t = time.perf_counter()
        pool.map(square, range(N_TASKS))
        return N_TASKS / (time.perf_counter() - t)


def py_ppe_map_cs1():
    n = N_TASKS // 10  # ProcessPoolExecutor is ~10x slower: fewer tasks, same rate
    with ProcessPoolExecutor(2) as ex:
        list(ex.map(square, range(100)))
        t = time.perf_counter()
        list(ex.map(square, range(n), chunksize=1))
        return n / (time.perf_counter() - t)


def py_joblib_auto():
    import joblib
    with joblib.Parallel(n_jobs=2) as par:
        par(joblib.delayed(square)(i) for i in range(100))
        t = time.perf_counter()
        par(joblib.delayed(square)(i) for i in range(N_TASKS))
        return N_TASKS / (time.perf_counter() - t)


def py_apply_latency():
    with mp.Pool(2) as pool:
        times = []
        for i in range(2050):
            t = time.perf_counter()
            pool.apply(square, (i,))
            if i >= 50:
                times.append((time.perf_counter() - t) * 1e6)
        return statistics.median(times)


def py_startup32():
    t = time.perf_counter()
    pool = mp.Pool(32)
    seen = set()
    while len(seen) < 32:
        seen.update(pool.map(getpid, range(32), chunksize=1))
    ms = (time.perf_counter() - t) * 1e3
    pool.terminate()
    pool.join()
    return ms


def py_worker_rss_kib():
    with mp.Pool(1) as pool:
        pid = pool.apply(getpid, (0,))
        time.sleep(0.2)
        return rss_kib(pid)


# ---------------------------------------------------------------- pooltop

def engine_bench(group):
    """Runs one group of the engine bench once; returns {metric: value}."""
    out = subprocess.run(
        ["cargo", "bench", "-q", "--bench", "engine", "--", group, "1", "--json"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return {d["metric"]: d["value"] for d in map(json.loads, out.strip().splitlines())}


def pooltop_run(lines, workers, extra=()):
    """Runs a task list headless; returns (wall seconds, manager CPU seconds)."""
    with tempfile.NamedTemporaryFile("w", suffix=".tasks", delete=False) as f:
        f.write("\n".join(lines) + "\n")
    t = time.perf_counter()
    p = subprocess.Popen([BIN, "run", "--headless", "-j", str(workers), *extra, f.name],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Threads that already ended drop out of /proc: keep the largest total
    # seen per thread set, sampled until the process exits.
    cpu = 0.0
    while p.poll() is None:
        cpu = max(cpu, proc_cpu_s(p.pid))
        time.sleep(0.02)
    wall = time.perf_counter() - t
    os.unlink(f.name)
    if p.returncode != 0:
        raise RuntimeError(f"pooltop run exited {p.returncode}")
    return wall, cpu


def pooltop_spin_efficiency():
    tasks = [f"spin {SPIN}"] * 4
    seq, _ = pooltop_run(tasks, 1)
    par, _ = pooltop_run(tasks, 2)
    return (seq / par) / 2


def pooltop_own_cpu_busy():
    wall, cpu = pooltop_run([f"spin {SPIN * 2}"] * 4, 2)
    return 100 * cpu / wall


def pooltop_own_cpu_idle():
    wall, cpu = pooltop_run(["sleep 3"] * 2, 2)
    return 100 * cpu / wall


# ---------------------------------------------------------------- Python functions

N_PY = 10_000
PY_FUNCS = """
import os

def square(n):
    return n * n

def rss_kib():
    def rss(pid):
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    return rss(os.getpid()) + rss(os.getppid())
"""


def py_funcs_file():
    """The module of `py` tasks for the benchmark, written once."""
    path = os.path.join(tempfile.gettempdir(), "pooltop_bench_funcs.py")
    with open(path, "w") as f:
        f.write(PY_FUNCS)
    return path


def pooltop_py_events(lines, workers, extra=()):
    """Runs `py` task lines headless with the JSON stream; returns its events."""
    with tempfile.NamedTemporaryFile("w", suffix=".tasks", delete=False) as f:
        f.write("\n".join(lines) + "\n")
    out = subprocess.run([BIN, "run", "--json", "-", "--sample-every", "0", "-j", str(workers),
                          "--python", sys.executable, *extra, f.name],
                         check=True, capture_output=True, text=True).stdout
    os.unlink(f.name)
    return [json.loads(line) for line in out.splitlines()]


def pooltop_py_rate(extra=()):
    """Calls/s of `py` tasks once every interpreter is warm: from the time
    the last worker finished its first task (its interpreter started and
    imported the module) to the last task's end, the tasks that ended in
    between. Pool.map's rows likewise time a pool that already ran a map."""
    path = py_funcs_file()
    events = pooltop_py_events([f"py {path}:square {i}" for i in range(N_PY)], 2, extra)
    done = [e for e in events if e["event"] == "task_finished"]
    assert len(done) == N_PY and all(e["state"] == "done" for e in done), "a py task failed"
    first = {}
    for e in done:
        first.setdefault(e["worker"], e["t"])
    warm = max(first.values())
    window = [e["t"] for e in done if e["t"] > warm]
    return len(window) / (max(window) - warm)


def py_pool_map_py(chunksize):
    def run():
        with mp.Pool(2) as pool:
            pool.map(square, range(100))
            t = time.perf_counter()
            if chunksize:
                pool.map(square, range(N_PY), chunksize=chunksize)
            else:
                pool.map(square, range(N_PY))
            return N_PY / (time.perf_counter() - t)
    return run


def pooltop_py_worker_rss_kib():
    """A worker and its interpreter, the module imported, between calls."""
    events = pooltop_py_events([f"py {py_funcs_file()}:rss_kib"], 1)
    return float(next(e for e in events if e["event"] == "task_finished")["result"])


# ---------------------------------------------------------------- shell dispatchers

def timed(cmd, stdin=None):
    t = time.perf_counter()
    subprocess.run(cmd, input=stdin, check=True, shell=isinstance(cmd, str),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    return time.perf_counter() - t


def true_pooltop():
    return N_TRUE / pooltop_run(["shell true"] * N_TRUE, 2)[0]


def true_pooltop_template():
    return N_TRUE / timed([BIN, "run", "-j2", "--", "true"], "\n".join(map(str, range(N_TRUE))))


def true_xargs():
    return N_TRUE / timed(["xargs", "-P2", "-n1", "true"], "\n".join(map(str, range(N_TRUE))))


def true_parallel():
    return N_TRUE / timed(["parallel", "--will-cite", "-j2", "true"],
                          "\n".join(map(str, range(N_TRUE))))


# ---------------------------------------------------------------- helpers

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return float(line.split()[1])
    raise RuntimeError("no VmRSS")


def proc_cpu_s(pid):
    """CPU time of one process's threads (not its children), in seconds, from
    /proc/PID/task/*/schedstat (nanoseconds, unlike the 10 ms ticks of stat)."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                pass
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return total / 1e9


def summarize(xs):
    return statistics.median(xs), min(xs), max(xs)


def fmt(x):
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    ap.add_argument("--only", metavar="WORDS",
                    help="measure only the rows whose title contains WORDS (e.g. Python)")
    args = ap.parse_args()

    subprocess.run(["cargo", "build", "--release", "-q"], cwd=ROOT, check=True)
    if not args.only:
        subprocess.run(["cargo", "bench", "--bench", "engine", "--no-run", "-q"], cwd=ROOT, check=True)
    have_joblib = shutil.which("python3") and subprocess.run(
        [sys.executable, "-c", "import joblib"], capture_output=True).returncode == 0
    have_parallel = shutil.which("parallel") is not None
    notes = []
    if not have_joblib:
        notes.append("joblib not installed: its row is skipped (`pip install joblib`).")
    if not have_parallel:
        notes.append("GNU parallel not installed: its row is skipped (`apt-get install parallel`).")

    # Each group: (title, unit, baseline keys, [(key, label, fn)]). In every
    # run each variant is measured once, in this order, and ratios are taken
    # against each baseline measured in that same run (one column each).
    def eng(group, metric):
        return lambda: engine_bench(group)[metric]

    groups = [
        ("Trivial tasks, 2 workers: 100,000 × square", "tasks/s",
         ("py_map_cs1", "py_map_default") + (("joblib",) if have_joblib else ()), [
            ("pooltop", "pooltop (one task per dispatch)",
             eng("throughput", "throughput: 100,000 square, 2 workers")),
            ("pooltop_chunked", "pooltop --chunksize auto",
             eng("chunked", "throughput: 100,000 square, 2 workers, chunksize auto")),
            ("py_map_cs1", "Pool.map chunksize=1", py_pool_map_cs1),
            ("py_imap", "Pool.imap_unordered chunksize=1", py_imap_unordered_cs1),
            ("py_ppe", "ProcessPoolExecutor.map chunksize=1 (10,000 tasks)", py_ppe_map_cs1),
            ("py_map_default", "Pool.map default chunksize", py_pool_map_default),
        ] + ([("joblib", "joblib Parallel(n_jobs=2), auto batching", py_joblib_auto)]
             if have_joblib else [])),
        ("Python functions, 2 workers: 10,000 calls of a trivial function (warm pools)",
         "calls/s", ("py_map_cs1", "py_map_default"), [
            ("pooltop_py", "pooltop py tasks (one task per dispatch)", pooltop_py_rate),
            ("pooltop_py_auto", "pooltop py tasks, --chunksize auto",
             lambda: pooltop_py_rate(("--chunksize", "auto"))),
            ("py_map_cs1", "Pool(2).map chunksize=1", py_pool_map_py(1)),
            ("py_map_default", "Pool(2).map default chunksize", py_pool_map_py(None)),
        ]),
        ("Idle Python worker memory (VmRSS)", "KiB", ("py_worker",), [
            ("pooltop", "pooltop worker + its interpreter (module imported)",
             pooltop_py_worker_rss_kib),
            ("py_worker", "multiprocessing.Pool worker (fork)", py_worker_rss_kib),
        ]),
        ("One-task round trip, idle pool of 2 (median of 2,000)", "µs", ("py_apply", "floor"), [
            ("pooltop", "pooltop", eng("latency", "round trip, idle pool of 2 (median of 2000)")),
            ("py_apply", "Pool(2).apply", py_apply_latency),
            ("floor", "raw Unix-socket ping-pong, 16 B (Rust)",
             eng("pingpong", "socket ping-pong floor, 16 B (median of 2000)")),
        ]),
        ("Start-up: 32 workers, each answered one task", "ms", ("py_pool32",), [
            ("pooltop", "pooltop", eng("startup", "start-up: 32 workers answered one task")),
            ("py_pool32", "multiprocessing.Pool(32) (fork)", py_startup32),
        ]),
        ("2,000 × `true`, 2 at a time", "commands/s",
         ("xargs",) + (("parallel",) if have_parallel else ()), [
            ("pooltop", "pooltop run -j2 (task file of `shell true`)", true_pooltop),
            ("pooltop_template", "pooltop run -j2 -- true (command template)", true_pooltop_template),
            ("xargs", "xargs -P2 -n1 true", true_xargs),
        ] + ([("parallel", "parallel -j2 true", true_parallel)] if have_parallel else [])),
        ("Idle worker memory (VmRSS)", "KiB", ("py_worker",), [
            ("pooltop", "pooltop worker", eng("rss", "idle worker VmRSS")),
            ("py_worker", "multiprocessing.Pool worker (fork)", py_worker_rss_kib),
        ]),
        ("CPU-bound: 4 × spin on 2 workers vs 1", "efficiency", (), [
            ("pooltop", "pooltop: (time on 1 worker / time on 2) / 2", pooltop_spin_efficiency),
        ]),
        ("pooltop's own CPU (manager, headless)", "% of one core", (), [
            ("busy", "2 workers saturating both cores with spin", pooltop_own_cpu_busy),
            ("idle", "2 workers sleeping", pooltop_own_cpu_idle),
        ]),
    ]

    if args.only:
        groups = [g for g in groups if args.only.lower() in g[0].lower()]
    results = {}  # (group index, key) -> [values]
    started = datetime.datetime.now(datetime.timezone.utc)
    for run in range(args.runs):
        for gi, (title, unit, _, variants) in enumerate(groups):
            for key, label, fn in variants:
                v = fn()
                results.setdefault((gi, key), []).append(v)
                print(f"run {run + 1}/{args.runs}  {title[:40]:<40}  {label[:45]:<45} {fmt(v)} {unit}",
                      flush=True)

    lines = [
        "# pooltop beside its peers",
        "",
        f"Generated by `python3 bench/compare.py --runs {args.runs}` on "
        f"{started:%Y-%m-%d %H:%M} UTC; {args.runs} runs, each variant measured once per run,"
        " variants of a row back to back. Ratios are computed within each run, then summarised"
        " (median and min–max). The machine is shared, so absolute figures move between runs;"
        " the same-run ratios are the figures to compare.",
        "",
        f"Machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}.",
        "",
    ]
    for note in notes:
        lines.append(f"- {note}")
    for gi, (title, unit, bases, variants) in enumerate(groups):
        lines += ["", f"## {title}", ""]
        head = f"| variant | median ({unit}) | min – max |"
        sep = "|---|---|---|"
        labels = dict((k, l) for k, l, _ in variants)
        for base in bases:
            head += f" × {labels[base]}, same run |"
            sep += "---|"
        lines += [head, sep]
        for key, label, _ in variants:
            xs = results[(gi, key)]
            med, lo, hi = summarize(xs)
            row = f"| {label} | {fmt(med)} | {fmt(lo)} – {fmt(hi)} |"
            for base in bases:
                ratios = [a / b for a, b in zip(xs, results[(gi, base)])]
                rm, rlo, rhi = summarize(ratios)
                row += f" {rm:.2f} ({rlo:.2f} – {rhi:.2f}) |"
            lines.append(row)
    lines.append("")
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
