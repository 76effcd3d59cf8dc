"""Step timing shared by the PyTorch peers of relief-bench: one warm-up, then timed steps."""
import time


def time_steps(step, iterations):
    """Runs `step` once untimed, then `iterations` times; returns every timed step's seconds and
    their best and median (the upper one for an even count), as the peers print them."""
    times = []
    for i in range(iterations + 1):
        t = time.perf_counter()
        step()
        if i > 0:
            times.append(time.perf_counter() - t)
    ordered = sorted(times)
    return {"times": times, "best": ordered[0], "median": ordered[len(ordered) // 2]}
