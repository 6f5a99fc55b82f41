"""Counter-based uniforms, so a chain depends only on (seed, image key, image step, pixel).

Exact definition (all arithmetic on unsigned 64-bit integers, wrapping mod 2**64;
the CuPy/CUDA backend must reproduce it bit for bit):

    mix(z):   z = z + 0x9E3779B97F4A7C15
              z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
              z = (z ^ (z >> 27)) * 0x94D049BB133111EB
              return z ^ (z >> 31)                       # splitmix64's output function

    base(seed, key, step) = mix(mix(mix(seed) ^ key) ^ step)    # key int64 read as two's complement
    uniform(base, pixel)  = (mix(base ^ pixel) >> 11) * 2**-53   # pixel = y * W + x; double in [0, 1)

One sweep of an image uses each pixel's uniform once (inverse-CDF draw from its
conditional); the next sweep uses step + 1. numba_backend compiles mix() itself.
"""
import numpy as np

GAMMA = np.uint64(0x9E3779B97F4A7C15)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)
S30, S27, S31, S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
INV53 = 2.0 ** -53
INIT_STEP = np.uint64(2**64 - 1)  # the step reserved for random initial labellings


def mix(z):
    """splitmix64's finaliser; z is a uint64 array (NumPy) or a uint64 scalar (Numba)."""
    z = z + GAMMA
    z = (z ^ (z >> S30)) * M1
    z = (z ^ (z >> S27)) * M2
    return z ^ (z >> S31)


def image_bases(seed, keys, steps):
    """(N,) uint64 per-image stream bases from an int seed, (N,) int64 keys, (N,) uint64 steps."""
    seed = np.full(len(keys), seed, dtype=np.uint64)  # arrays, never scalars: they wrap silently
    return mix(mix(mix(seed) ^ np.asarray(keys).view(np.uint64)) ^ np.asarray(steps, dtype=np.uint64))


def uniform(bases, pixels):
    """Uniforms in [0, 1) for uint64 bases and pixel indices (broadcast together)."""
    pixels = np.asarray(pixels).astype(np.uint64)
    return (mix(np.asarray(bases, dtype=np.uint64) ^ pixels) >> S11) * INV53
