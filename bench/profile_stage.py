"""Where one repoctx command spends its time and memory: cProfile to a file, plus a sampler thread
that reads the process's RSS and the main thread's stack every INTERVAL seconds.

    python bench/profile_stage.py OUT.prof [--interval 0.25] [--no-cprofile] [--thread] -- pack REPO --query Q ...

Prints the top cumulative functions (file:function) and, from the samples, each repoctx function
inclusive of what it calls: wall and CPU seconds while on the stack, and the RSS when first seen →
the peak while on the stack (the memory its stage holds). cProfile times CPU (time.process_time),
so a loaded machine does not inflate it; --wall times wall clock instead. Sampling alone
(--no-cprofile) costs next to nothing; under cProfile every Python call costs more (often 1.5-2x).
"""
from __future__ import annotations

import cProfile
import os
import pstats
import sys
import threading
import time


def rss_mib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def stack(frame) -> tuple[str, ...]:
    """The repoctx and server frames of a stack, outermost first, as file:function."""
    names = []
    while frame is not None:
        path = frame.f_code.co_filename
        for root in ("/repoctx/", "/server/"):
            if root in path:
                short = root.strip("/") + "/" + path.split(root, 1)[1]
                names.append(f"{short}:{frame.f_code.co_name}")
                break
        frame = frame.f_back
    return tuple(reversed(names))


class Sampler(threading.Thread):
    """Samples of (wall s, CPU s, RSS MiB, repoctx stack). By default a SIGPROF timer of `interval`
    CPU seconds samples the main thread where its CPU goes; with `--thread`, this thread samples it
    every `interval` wall seconds instead — but it can take the GIL only when the main thread lets it
    go, which is at once at every system call, so file reads and SQLite calls get far more samples
    than their share. Either way this thread writes the live table."""

    def __init__(self, interval: float, by_thread: bool = False):
        super().__init__(daemon=True)
        self.interval, self.main, self.by_thread = interval, threading.main_thread().ident, by_thread
        self.samples: list[tuple[float, float, int, tuple[str, ...]]] = []
        self.done = threading.Event()
        self.live: str | None = None
        self.t0 = time.perf_counter()

    def sample(self, frame) -> None:
        self.samples.append((time.perf_counter() - self.t0, time.process_time(), rss_mib(), stack(frame)))

    def start(self) -> None:
        if not self.by_thread:
            import signal
            signal.signal(signal.SIGPROF, lambda _sig, frame: self.sample(frame))
            signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)
        super().start()

    def stop(self) -> None:
        if not self.by_thread:
            import signal
            signal.setitimer(signal.ITIMER_PROF, 0, 0)
        self.done.set()
        self.join()

    def run(self) -> None:
        written = 0.0
        while not self.done.wait(self.interval if self.by_thread else 1.0):
            if self.by_thread:
                self.sample(sys._current_frames().get(self.main))
            now = time.perf_counter() - self.t0
            if self.live and self.samples and now - written >= 30:  # a long run shows where it is meanwhile
                written = now
                last = self.samples[-1]
                with open(self.live, "w") as f:
                    f.write(f"{now:.0f}s wall, {last[1]:.0f}s cpu, RSS {last[2]} MiB\n")
                    f.writelines(table(list(self.samples)))


def inclusive(samples) -> list[tuple[str, float, float, int, int, float]]:
    """Per function on the sampled stacks: (name, wall s, CPU s, RSS first seen, peak RSS, first seen at)."""
    seen: dict[str, list] = {}
    last_t, last_cpu = 0.0, samples[0][1] if samples else 0.0
    for t, cpu, rss, st in samples:
        dt, dcpu = t - last_t, cpu - last_cpu
        last_t, last_cpu = t, cpu
        for name in set(st):
            row = seen.setdefault(name, [name, 0.0, 0.0, rss, rss, t])
            row[1] += dt
            row[2] += dcpu
            row[4] = max(row[4], rss)
    return sorted((tuple(r) for r in seen.values()), key=lambda r: -r[1])


def table(samples, top: int = 40) -> list[str]:
    return [f"{secs:7.1f}s {cpu:7.1f}s cpu  {rss0:6d} → {rss1:6d} MiB  @{t:6.1f}s  {name}\n"
            for name, secs, cpu, rss0, rss1, t in inclusive(samples)[:top]]


def main() -> None:
    argv = sys.argv[1:]
    cut = argv.index("--")
    opts, command = argv[:cut], argv[cut + 1:]
    out = opts[0]
    interval = float(opts[opts.index("--interval") + 1]) if "--interval" in opts else 0.25
    profile = "--no-cprofile" not in opts
    from repoctx.cli import main as cli
    sampler = Sampler(interval, by_thread="--thread" in opts)
    sampler.live = out + ".live"
    prof = (cProfile.Profile() if "--wall" in opts else cProfile.Profile(time.process_time)) if profile else None
    start, cpu = time.perf_counter(), time.process_time()
    sampler.start()
    if prof:
        prof.enable()
    try:
        rc = cli(command)
    except SystemExit as exc:
        rc = exc.code
    finally:
        if prof:
            prof.disable()
        sampler.stop()
    import resource
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu + children.ru_utime + children.ru_stime
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"\n== {' '.join(command)[:200]}\nexit {rc}; {wall:.1f} s wall, {cpu:.1f} s cpu, peak RSS {peak} MiB "
          f"(children {children.ru_maxrss // 1024} MiB) "
          f"(cProfile {'on' if prof else 'off'}; pid {os.getpid()})", file=sys.stderr)
    if prof:
        prof.dump_stats(out)
        stats = pstats.Stats(out, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(20)
    print("== sampled, inclusive: wall s, CPU s, RSS first seen → peak MiB, first seen at", file=sys.stderr)
    sys.stderr.writelines(table(sampler.samples))

if __name__ == "__main__":
    main()
