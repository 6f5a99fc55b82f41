"""Persistent chains: one uint8 labelling and one sweep counter per training image.

The store can live exactly in a Caffe float blob (to_blob / from_blob): column 0 holds the
step count, the rest the labels packed three per float as l0 + 256*l1 + 65536*l2 < 2**24,
an integer float32 represents exactly.
"""
import numpy as np

from . import checks, rng

BLOCK = 64  # images initialised at a time: bounds the uint64 temporaries
EXACT = 2 ** 24  # float32 holds every integer below this exactly
SOLVER_HINT = ("the solver must not change the chain-store blob: set lr_mult: 0 and decay_mult: 0 "
               "on that parameter")


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
        """(num_images, 1 + ceil(H*W/3)) float32: steps, then labels packed three per float."""
        return self.encode_rows(self.labels, self.steps)

    @classmethod
    def from_blob(cls, blob, height, width, num_labels):
        labels, steps = cls.decode_rows(blob, height, width, num_labels)
        return cls._of(labels, steps, num_labels)

    @staticmethod
    def encode_rows(labels, steps):
        """Blob rows for (n, H, W) labels and (n,) steps, e.g. those of one batch."""
        labels = np.asarray(labels, dtype=np.uint8)
        steps = np.asarray(steps, dtype=np.int64).reshape(-1)
        if steps.shape != (len(labels),) or steps.min(initial=0) < 0 or steps.max(initial=0) >= EXACT:
            raise ValueError(f"steps: expected {len(labels)} integers in 0..{EXACT - 1}, got {steps}")
        flat = labels.reshape(len(labels), -1).astype(np.float32)
        flat = np.pad(flat, ((0, 0), (0, -flat.shape[1] % 3)))
        packed = flat[:, 0::3] + 256 * flat[:, 1::3] + 65536 * flat[:, 2::3]
        return np.concatenate([steps[:, None].astype(np.float32), packed], axis=1)

    @staticmethod
    def decode_rows(rows, height, width, num_labels):
        """(labels (n, H, W) uint8, steps (n,) int64) from blob rows; ValueError if they were touched."""
        rows = np.asarray(rows)
        columns = 1 + -(-height * width // 3)
        if rows.ndim != 2 or rows.shape[1] != columns:
            raise ValueError(f"chain-store blob: expected shape (n, {columns}) for {height}x{width} images, "
                             f"got {rows.shape}")
        values = rows.astype(np.float64)
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)) or values.min() < 0 \
                or values.max() >= EXACT:
            raise ValueError(f"chain-store blob: values are not integers in 0..{EXACT - 1}; {SOLVER_HINT}")
        packed = values[:, 1:].astype(np.int64)
        flat = np.stack([packed % 256, packed // 256 % 256, packed // 65536], axis=2).reshape(len(rows), -1)
        if flat.max(initial=0) >= num_labels or np.any(flat[:, height * width:]):
            raise ValueError(f"chain-store blob: labels outside 0..{num_labels - 1}; {SOLVER_HINT}")
        labels = flat[:, :height * width].astype(np.uint8).reshape(len(rows), height, width)
        return labels, values[:, 0].astype(np.int64)

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
