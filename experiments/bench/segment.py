"""Time per image of segmenting a depth map (cnncrf: Model.segment, as tools/segment.py does it)
for each inference method and image size, on generated scenes."""
import statistics
import time

from data.generate import make_image


def run(deploy, weights, sizes, images, methods, burn_in=None, samples=None):
    """({method: {(width, height): median seconds per image}}, the model's training scale): each
    method's Model segments `images` scenes of every size (the generator's test split, seed 0)
    after one untimed image (Numba compiles on the first)."""
    import cnncrf

    models = {method: cnncrf.load(deploy, weights, method, burn_in=burn_in, samples=samples) for method in methods}
    scenes = {(w, h): [make_image(0, "test", i, h, w)[0] for i in range(images)] for w, h in sizes}
    seconds = {}
    for method, model in models.items():
        model.segment(scenes[sizes[0]][0])
        seconds[method] = {size: statistics.median(_timed(model.segment, depth) for depth in scenes[size])
                           for size in sizes}
    return seconds, models[methods[0]].trained_at


def _timed(function, *args):
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def table(seconds, sizes):
    lines = ["| inference | " + " | ".join(f"{w}x{h}" for w, h in sizes) + " |", "| --- |" + " --- |" * len(sizes)]
    lines += [f"| {method} | " + " | ".join(f"{row[size]:.3f} s" for size in sizes) + " |"
              for method, row in seconds.items()]
    return "\n".join(lines)
