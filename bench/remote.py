#!/usr/bin/env python3
"""Workers over ssh, measured against local workers and raw ssh, in one run.

    python3 bench/remote.py [--runs 3]

Starts a throwaway sshd on 127.0.0.1 (openssh-server; keys made for the run,
as tests/helpers/sshd.rs does), builds nothing: it runs target/release/pooltop
(cargo build --release first). Each run measures, back to back:

1. dispatch: 100,000 x `square` with `--chunksize auto` on 2 workers over ssh
   (`--ssh 2/HOST`) vs 2 local workers (`-j 2`): the pool's own wall time (its
   summary, which includes starting the workers: ssh sessions take ~0.2 s,
   the whole local run ~20 ms), and again from the first worker's handshake
   to the end (from `--json FILE`, on both sides). Target: ssh >= 0.5x local.
2. round trip: 2,000 `sleep 0` tasks on 1 worker (a task that is not
   instant, so nothing is held in advance: each is one round trip), wall per
   task over ssh, vs the raw round trip of a 300-byte line through
   `ssh HOST cat` (2,000 times). Target: <= 1.5x.
3. start-up: 8 workers on one host over the ControlMaster connection that
   reaching the host opened (first spawn to eighth handshake, from the JSON
   events) vs one fresh `ssh HOST true`. Target: <= 2x.

Prints a table of medians and the same-run ratios.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "pooltop")
HOST = "pt-bench"


def start_sshd(d):
    sshd = next((p for p in ("/usr/sbin/sshd", "/usr/bin/sshd") if os.path.exists(p)), None)
    if sshd is None:
        sys.exit("sshd is not installed (apt-get install openssh-server)")
    for key in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{d}/{key}"], check=True)
    shutil.copy(f"{d}/client_key.pub", f"{d}/authorized_keys")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    os.makedirs("/run/sshd", exist_ok=True)
    with open(f"{d}/sshd_config", "w") as f:
        f.write(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n"
                f"AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n"
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
                "StrictModes no\nMaxStartups 64\n")
    user = os.environ.get("USER", "root")
    with open(f"{d}/ssh_config", "w") as f:
        f.write(f"Host {HOST}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n"
                f"  IdentityFile {d}/client_key\n  IdentitiesOnly yes\n"
                f"  UserKnownHostsFile {d}/known_hosts\n  StrictHostKeyChecking accept-new\n"
                "  LogLevel ERROR\n")
    proc = subprocess.Popen([sshd, "-D", "-e", "-f", f"{d}/sshd_config"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ssh = ["ssh", "-F", f"{d}/ssh_config", "-o", "BatchMode=yes"]
    for _ in range(200):
        if subprocess.run(ssh + [HOST, "true"], stderr=subprocess.DEVNULL).returncode == 0:
            return proc, ssh
        time.sleep(0.1)
    sys.exit("sshd did not come up")


def pool_wall(args, tasks, env):
    """The pool's own wall time (its summary line), in seconds."""
    out = subprocess.run([BIN, "run", "--headless", "--no-record", *args, "-"], input=tasks,
                         capture_output=True, text=True, env=env, check=True)
    for line in out.stderr.splitlines():
        if "wall " in line:
            w = line.split("wall ", 1)[1].split()[0]
            return float(w.rstrip("s")) if w.endswith("s") and not w.endswith("ms") else float(w[:-2]) / 1e3
    raise SystemExit(f"no summary: {out.stderr}")


def after_ready(args, tasks, env):
    """Seconds from the first worker's handshake to the end of the run (the
    dispatch itself, without ssh's session start-up), from the JSON events;
    writing them costs both sides alike."""
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as f:
        subprocess.run([BIN, "run", "--headless", "--no-record", "--json", f.name, *args, "-"],
                       input=tasks, capture_output=True, text=True, env=env, check=True)
        ready, end = [], None
        for line in open(f.name):
            if '"worker_started"' in line:
                ready.append(json.loads(line)["t"])
            elif '"summary"' in line:
                end = json.loads(line)["wall_s"]
    return end - min(ready)


def raw_echo_rtt(ssh, n=2000):
    p = subprocess.Popen(ssh + ["-T", HOST, "cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    line = bytes(range(32, 127)) * 3 + b"\n"
    p.stdin.write(line)
    p.stdin.flush()
    p.stdout.readline()
    t = time.perf_counter()
    for _ in range(n):
        p.stdin.write(line)
        p.stdin.flush()
        p.stdout.readline()
    rtt = (time.perf_counter() - t) / n
    p.stdin.close()
    p.wait()
    return rtt


def start_up(env, workers=8):
    out = subprocess.run([BIN, "run", "--headless", "--no-record", "--json", "-",
                          "--ssh", f"{workers}/{HOST}", "-"], input="sleep 1\n" * workers,
                         capture_output=True, text=True, env=env, check=True)
    spawned, ready = [], []
    for line in out.stdout.splitlines():
        e = json.loads(line)
        if e["event"] == "worker_host":
            spawned.append(e["t"])
        elif e["event"] == "worker_started":
            ready.append(e["t"])
    assert len(ready) == workers, out.stdout
    return max(ready) - min(spawned)


def fresh_ssh_true(ssh):
    t = time.perf_counter()
    subprocess.run(ssh + ["-o", "ControlMaster=no", "-o", "ControlPath=none", HOST, "true"], check=True)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    if not os.path.exists(BIN):
        sys.exit("build first: cargo build --release")
    d = tempfile.mkdtemp(prefix="pt-bench-ssh-")
    sshd, ssh = start_sshd(d)
    env = dict(os.environ, POOLTOP_SSH=" ".join(ssh), HOME=d)
    squares = "".join(f"square {i}\n" for i in range(100_000))
    sleeps = "sleep 0\n" * 2000
    rows = {k: [] for k in ("local", "ssh", "ratio1", "d_local", "d_ssh", "ratio1b", "rt_pool", "rt_raw", "ratio2",
                            "start8", "ssh_true", "ratio3")}
    try:
        pool_wall(["--ssh", f"1/{HOST}"], "square 1\n", env)  # copies the binary once
        for _ in range(a.runs):
            local = pool_wall(["-j", "2", "--chunksize", "auto"], squares, env)
            remote = pool_wall(["--ssh", f"2/{HOST}", "--chunksize", "auto"], squares, env)
            rows["local"].append(local)
            rows["ssh"].append(remote)
            rows["ratio1"].append(local / remote)
            d_local = after_ready(["-j", "2", "--chunksize", "auto"], squares, env)
            d_ssh = after_ready(["--ssh", f"2/{HOST}", "--chunksize", "auto"], squares, env)
            rows["d_local"].append(d_local)
            rows["d_ssh"].append(d_ssh)
            rows["ratio1b"].append(d_local / d_ssh)
            rt_pool = pool_wall(["--ssh", f"1/{HOST}"], sleeps, env) / 2000
            rt_raw = raw_echo_rtt(ssh)
            rows["rt_pool"].append(rt_pool)
            rows["rt_raw"].append(rt_raw)
            rows["ratio2"].append(rt_pool / rt_raw)
            s8 = start_up(env)
            st = fresh_ssh_true(ssh)
            rows["start8"].append(s8)
            rows["ssh_true"].append(st)
            rows["ratio3"].append(s8 / st)
    finally:
        sshd.terminate()
        sshd.wait()
        shutil.rmtree(d, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in rows.items()}
    rng = {k: (min(v), max(v)) for k, v in rows.items()}
    print(f"runs: {a.runs} (medians; ratios computed run by run, min-max in brackets)")
    print(f"| what | ssh | reference | ratio | target |")
    print(f"|---|---|---|---|---|")
    print(f"| 100,000 x square, --chunksize auto, 2 workers | {med['ssh']:.3f} s | local {med['local']:.3f} s "
          f"| {med['ratio1']:.2f}x local speed ({rng['ratio1'][0]:.2f}-{rng['ratio1'][1]:.2f}) | >= 0.5x |")
    print(f"| the same from the first handshake on (JSON written) | {med['d_ssh']:.3f} s | local {med['d_local']:.3f} s "
          f"| {med['ratio1b']:.2f}x local speed ({rng['ratio1b'][0]:.2f}-{rng['ratio1b'][1]:.2f}) | (>= 0.5x) |")
    print(f"| one-task round trip (sleep 0, 1 worker) | {med['rt_pool']*1e6:.0f} us | raw ssh echo {med['rt_raw']*1e6:.0f} us "
          f"| {med['ratio2']:.2f}x ({rng['ratio2'][0]:.2f}-{rng['ratio2'][1]:.2f}) | <= 1.5x |")
    print(f"| start of 8 workers over one ControlMaster | {med['start8']:.3f} s | ssh host true {med['ssh_true']:.3f} s "
          f"| {med['ratio3']:.2f}x ({rng['ratio3'][0]:.2f}-{rng['ratio3'][1]:.2f}) | <= 2x |")


if __name__ == "__main__":
    main()
