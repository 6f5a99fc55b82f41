"""Body poses: joint angles (radians) within limits, random or structured, and mirroring.

Signs: flexion swings a limb forward, abduction away from the body's midline, a positive
shoulder/hip twist turns the limb inwards; knee and elbow angles are bend amounts.
"""
import numpy as np

LIMB_LIMITS = {
    "hip_flex": (-0.45, 1.8), "hip_abd": (-0.2, 0.75), "hip_twist": (-0.5, 0.6), "knee": (0.0, 2.3),
    "shoulder_flex": (-0.8, 3.0), "shoulder_abd": (-0.4, 2.8), "shoulder_twist": (-0.8, 1.4),
    "elbow": (0.0, 2.5),
}
TRUNK_LIMITS = {
    "spine_bend": (-0.25, 1.2), "spine_lateral": (-0.35, 0.35), "spine_twist": (-0.5, 0.5),
    "neck_pitch": (-0.4, 0.6), "neck_yaw": (-0.8, 0.8),
}
LIMITS = {**TRUNK_LIMITS, **{f"{k}_{s}": v for k, v in LIMB_LIMITS.items() for s in "LR"}}
# Angles that change sign under a left-right mirror (rotations about the up or forward axis).
ODD = ("spine_lateral", "spine_twist", "neck_yaw", "yaw", "roll")
STRUCTURED = ("stand", "walk", "reach", "cross_arms", "raise_arms", "bend")


def neutral():
    pose = {k: 0.0 for k in LIMITS}
    pose.update(shoulder_abd_L=0.15, shoulder_abd_R=0.15, elbow_L=0.15, elbow_R=0.15, yaw=0.0, pitch=0.0, roll=0.0)
    return pose


def _structured(kind, rng):
    pose = neutral()
    sides = ("L", "R") if rng.random() < 0.5 else ("R", "L")
    if kind == "walk":
        swing = rng.uniform(0.2, 0.6) * np.sin(rng.uniform(0, 2 * np.pi))
        for s, sign in zip(sides, (1, -1)):
            pose[f"hip_flex_{s}"] = sign * swing
            pose[f"knee_{s}"] = rng.uniform(0.05, 0.3) + max(0.0, -sign * swing)
            pose[f"shoulder_flex_{s}"] = -sign * 0.7 * swing
            pose[f"elbow_{s}"] = rng.uniform(0.1, 0.6)
    elif kind == "reach":
        a, b = sides
        pose[f"shoulder_flex_{a}"] = rng.uniform(0.7, 2.4)
        pose[f"shoulder_abd_{a}"] = rng.uniform(-0.3, 1.0)
        pose[f"elbow_{a}"] = rng.uniform(0.0, 0.5)
        pose[f"shoulder_flex_{b}"] = rng.uniform(-0.3, 0.8)
        pose["spine_twist"] = rng.uniform(-0.4, 0.4)
        pose["spine_bend"] = rng.uniform(0.0, 0.4)
    elif kind == "cross_arms":
        for s in "LR":
            pose[f"shoulder_flex_{s}"] = rng.uniform(0.2, 0.6)
            pose[f"shoulder_abd_{s}"] = rng.uniform(0.0, 0.3)
            pose[f"shoulder_twist_{s}"] = rng.uniform(0.9, 1.4)
            pose[f"elbow_{s}"] = rng.uniform(1.6, 2.2)
    elif kind == "raise_arms":
        for s in sides[: rng.integers(1, 3)]:
            pose[f"shoulder_flex_{s}"] = rng.uniform(0.0, 3.0)
            pose[f"shoulder_abd_{s}"] = rng.uniform(1.2, 2.8) if pose[f"shoulder_flex_{s}"] < 2.0 else 0.2
            pose[f"elbow_{s}"] = rng.uniform(0.0, 1.2)
    elif kind == "bend":
        pose["spine_bend"] = rng.uniform(0.5, 1.2)
        for s in "LR":
            pose[f"shoulder_flex_{s}"] = pose["spine_bend"] + rng.uniform(-0.4, 0.6)
            pose[f"knee_{s}"] = rng.uniform(0.0, 0.5)
            pose[f"hip_flex_{s}"] = rng.uniform(0.0, 0.3)
    return pose


def sample_pose(rng, structured_share=0.75, facing_share=0.6):
    """(kind, pose): a structured pose with jitter (share structured_share) or a random one,
    each angle uniform between neutral and a uniform draw within its limits (so that not
    all joints are at extremes at once). Whole-body yaw covers the full circle, but in
    facing_share of the images it is near facing the camera, as people mostly stand in
    front of a Kinect; pitch and roll are a few degrees."""
    if rng.random() < structured_share:
        kind = STRUCTURED[rng.integers(len(STRUCTURED))]
        pose = _structured(kind, rng)
        for k in LIMITS:
            pose[k] += rng.normal(0.0, 0.12)
    else:
        kind = "random"
        rest = neutral()
        pose = {k: rest[k] + rng.uniform() * (rng.uniform(lo, hi) - rest[k]) for k, (lo, hi) in LIMITS.items()}
    pose = {k: float(np.clip(v, *LIMITS[k])) for k, v in pose.items() if k in LIMITS}
    facing = rng.random() < facing_share  # the camera looks along +y, so facing it is yaw = pi
    yaw = np.pi + rng.normal(0.0, 0.6) if facing else rng.uniform(-np.pi, np.pi)
    pose.update(yaw=float(np.angle(np.exp(1j * yaw))), pitch=rng.normal(0.0, 0.05), roll=rng.normal(0.0, 0.05))
    return kind, pose


def mirror(pose):
    """The pose of the body's mirror image in the body's x = 0 plane (and the world's)."""
    out = {}
    for k, v in pose.items():
        twin = k[:-1] + {"L": "R", "R": "L"}[k[-1]] if k[-2:] in ("_L", "_R") else k
        out[twin] = -v if k in ODD else v
    return out
