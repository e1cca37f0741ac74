"""The classic multiprocessing examples, as functions pooltop's `py` tasks call.

Run with Python's own pool:   python3 examples/python/seeds.py
Run on pooltop (see README, "From Python"):
    pooltop run -j 2 examples/python/countdowns.tasks
    pooltop run -k --py examples/python/seeds.py:square ::: $(seq 10)
    pooltop run -j 4 -k --py examples/python/seeds.py:work_log ::: '["A",5]' '["B",2]' '["C",1]' '["D",3]'
"""
import os
import sys
import time
from multiprocessing import Pool


def countdown(n):
    """The CPU-bound loop: count n down to zero."""
    while n > 0:
        n -= 1
    return os.getpid()


def square(x):
    return x * x


def work_log(work_data):
    """Say which worker waits how long, then wait."""
    name, seconds = work_data
    print(f" Process {name} waiting {seconds} seconds")
    time.sleep(int(seconds))
    print(f" Process {name} Finished.")
    return name


def thumbnail(path, size=128):
    """Blur, then shrink to fit size x size (needs Pillow: pip install Pillow)."""
    from PIL import Image, ImageFilter

    with Image.open(path) as im:
        im = im.filter(ImageFilter.GaussianBlur(2))
        im.thumbnail((size, size))
        out = os.path.splitext(path)[0] + ".thumb.png"
        im.save(out)
    return out


if __name__ == "__main__":
    # Python's own way; pooltop imports this file under another name, so
    # none of this runs there.
    with Pool(2) as pool:
        t = time.perf_counter()
        pool.map(countdown, [100_000_000, 100_000_000])
        print(f"two countdowns on Pool(2): {time.perf_counter() - t:.2f}s", file=sys.stderr)
        print(pool.map(square, range(1, 11)))
        pool.map(work_log, [["A", 5], ["B", 2], ["C", 1], ["D", 3]])
