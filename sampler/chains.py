"""Persistent chains: one uint8 labelling and one sweep counter per training image.

The store can live exactly in a Caffe float blob (to_blob / from_blob), one row per image:
column 0 the step count and column 1 a checksum of the row (integers below 2**24, which a
float32 holds exactly), then the labels packed K per float as base-L digits: the code
sum_j l_j L**j (K = the most digits whose codes fit) is stored as the float whose bit pattern
is code + 2**23, a positive normal number. A solver step of zero (lr_mult 0, or decay_mult 0
with a zero diff) leaves such floats bit for bit unchanged; any other change breaks the
checksum or the code range and is refused. 20 labels: 7 per float (3 before, with labels as
integer-valued floats), so the chains take 3/7 of the space in a snapshot, whose .solverstate
also holds two Adam history blobs of the blob's size.
"""
import numpy as np

from . import checks, rng

BLOCK = 64  # images initialised at a time: bounds the uint64 temporaries
EXACT = 2 ** 24  # float32 holds every integer below this exactly
NORMAL = 2 ** 23  # bit pattern of the smallest positive normal float32
CODES = 0x7F800000 - NORMAL  # positive normal float32s: codes 0..CODES-1 map onto them
CHECKSUM = 16777213  # a prime below 2**24
HEADER = 2  # steps, checksum
SOLVER_HINT = ("the solver must not change the chain-store blob: set lr_mult: 0 and decay_mult: 0 "
               "on that parameter")


class ChainStoreError(ValueError):
    """Chain-store rows that were changed since they were written (by a solver, say)."""


def digits_per_float(num_labels):
    """K: the most base-L digits whose codes fit into the positive normal float32s."""
    k = 1
    while num_labels ** (k + 1) <= CODES:
        k += 1
    return k


def blob_columns(height, width, num_labels):
    return HEADER + -(-height * width // digits_per_float(num_labels))


def _checksum(codes):
    """(n,) int64: sum_j code_j * (j + 1) mod CHECKSUM of each row of int64 codes."""
    weights = np.arange(1, codes.shape[1] + 1, dtype=np.int64) % CHECKSUM
    return ((codes % CHECKSUM) * weights % CHECKSUM).sum(axis=1) % CHECKSUM


class ChainStore:
    def __init__(self, num_images, height, width, num_labels, seed=0):
        """Random initial labellings: image k's depends only on (seed, k), not on num_images."""
        num_images, height, width = (checks.count(v, name, 1) for v, name in
                                     ((num_images, "num_images"), (height, "height"), (width, "width")))
        self.num_labels = checks.count(num_labels, "num_labels", 2)
        if self.num_labels > checks.MAX_LABELS:
            raise ValueError(f"num_labels: at most {checks.MAX_LABELS} (uint8 labels), got {num_labels}")
        seed, pixels = checks.seed(seed), np.arange(height * width)
        self.labels = np.empty((num_images, height, width), dtype=np.uint8)
        for start in range(0, num_images, BLOCK):
            keys = np.arange(start, min(num_images, start + BLOCK))
            bases = rng.image_bases(seed, keys, np.full(len(keys), rng.INIT_STEP, dtype=np.uint64))
            u = rng.uniform(bases[:, None], pixels[None])  # < 1, so u * L < L
            self.labels[keys] = (u * num_labels).astype(np.uint8).reshape(len(keys), height, width)
        self.steps = np.zeros(num_images, dtype=np.int64)

    @property
    def nbytes(self):
        return self.labels.nbytes

    def get(self, indices):
        """(n, H, W) copy of the chains of the given images."""
        return self.labels[self._indices(indices)].copy()

    def set(self, indices, labels):
        """Store new labellings for the given (distinct) images and count one sweep for each."""
        indices = self._indices(indices)
        if len(np.unique(indices)) != len(indices):
            raise ValueError(f"indices: duplicate image index in {indices.tolist()}")
        self.labels[indices] = checks.labels(labels, (len(indices),) + self.labels.shape[1:], self.num_labels)
        self.steps[indices] += 1

    def save(self, path):
        np.savez(path, labels=self.labels, steps=self.steps, num_labels=self.num_labels)

    @classmethod
    def load(cls, path):
        with np.load(path) as f:
            return cls._of(f["labels"], f["steps"], int(f["num_labels"]))

    def to_blob(self):
        """(num_images, blob_columns(H, W, L)) float32: steps, checksum, then the packed labels."""
        return self.encode_rows(self.labels, self.steps, self.num_labels)

    @classmethod
    def from_blob(cls, blob, height, width, num_labels):
        labels, steps = cls.decode_rows(blob, height, width, num_labels)
        return cls._of(labels, steps, num_labels)

    @staticmethod
    def encode_rows(labels, steps, num_labels):
        """Blob rows for (n, H, W) labels and (n,) steps, e.g. those of one batch."""
        labels = np.asarray(labels, dtype=np.uint8)
        steps = np.asarray(steps, dtype=np.int64).reshape(-1)
        if steps.shape != (len(labels),) or steps.min(initial=0) < 0 or steps.max(initial=0) >= EXACT:
            raise ValueError(f"steps: expected {len(labels)} integers in 0..{EXACT - 1}, got {steps}")
        k = digits_per_float(num_labels)
        flat = labels.reshape(len(labels), -1)
        flat = np.pad(flat, ((0, 0), (0, -flat.shape[1] % k))).reshape(len(labels), -1, k)
        codes = flat @ (np.int64(num_labels) ** np.arange(k, dtype=np.int64))
        rows = np.empty((len(labels), HEADER + codes.shape[1]), dtype=np.float32)
        rows[:, 0] = steps
        rows[:, 1] = _checksum(codes)
        rows[:, HEADER:] = (codes + NORMAL).astype(np.uint32).view(np.float32)
        return rows

    @staticmethod
    def decode_rows(rows, height, width, num_labels):
        """(labels (n, H, W) uint8, steps (n,) int64) from blob rows; ValueError if they were touched."""
        rows = np.asarray(rows)
        columns = blob_columns(height, width, num_labels)
        if rows.ndim != 2 or rows.shape[1] != columns or rows.dtype != np.float32:
            raise ChainStoreError(f"chain-store blob: expected float32 shape (n, {columns}) for {height}x{width} images "
                             f"of {num_labels} labels, got {rows.dtype} {rows.shape}")
        header = rows[:, :HEADER].astype(np.float64)
        if not np.all(np.isfinite(header)) or np.any(header != np.round(header)) or header.min(initial=0) < 0 \
                or header.max(initial=0) >= EXACT:
            raise ChainStoreError(f"chain-store blob: steps or checksum are not integers in 0..{EXACT - 1}; {SOLVER_HINT}")
        k = digits_per_float(num_labels)
        codes = rows[:, HEADER:].view(np.uint32).astype(np.int64) - NORMAL
        last = height * width - (codes.shape[1] - 1) * k  # digits in the last float of a row
        if codes.size and (codes.min() < 0 or codes.max() >= num_labels ** k
                           or codes[:, -1].max() >= num_labels ** last) \
                or np.any(_checksum(codes) != header[:, 1]):
            raise ChainStoreError(f"chain-store blob: the packed labels were changed; {SOLVER_HINT}")
        digits = codes[:, :, None] // (np.int64(num_labels) ** np.arange(k, dtype=np.int64)) % num_labels
        labels = digits.reshape(len(rows), -1)[:, :height * width].astype(np.uint8)
        return labels.reshape(len(rows), height, width), header[:, 0].astype(np.int64)

    @classmethod
    def _of(cls, labels, steps, num_labels):
        store = cls.__new__(cls)
        store.labels, store.steps, store.num_labels = labels, np.asarray(steps, dtype=np.int64), num_labels
        return store

    def _indices(self, indices):
        indices = np.asarray(indices).reshape(-1)
        if indices.dtype.kind not in "iu" or indices.size and not (
                0 <= indices.min() and indices.max() < len(self.labels)):
            raise ValueError(f"indices: expected integers in 0..{len(self.labels) - 1}, got {indices}")
        return indices.astype(np.int64)
