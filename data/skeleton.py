"""An articulated body: anthropometric sizes per person and the primitives of a posed body.

Body frame: x is the person's right, y forward, z up, origin between the hip joints.
Every primitive is a unit-radius capsule along local z from 0 to h, mapped to the body by
an affine map x = c + A q; a sphere (h = 0) under A is an ellipsoid, so one ray-casting
routine draws capsules, elliptic capsules (torso, hands) and ellipsoids (head) alike.
"""
import numpy as np

from . import labels as L

# Segment lengths as fractions of body height (Drillis and Contini's proportions).
LENGTHS = {
    "torso": 0.29, "neck": 0.045, "upper_leg": 0.245, "lower_leg": 0.246, "ankle": 0.039,
    "foot": 0.15, "upper_arm": 0.186, "forearm": 0.146, "hand": 0.09,
    "shoulder_width": 0.215, "hip_width": 0.11,
}
# Radii in metres for a person of average girth.
RADII = {
    "torso_x": 0.16, "torso_y": 0.105, "neck": 0.05, "head_x": 0.076, "head_y": 0.095,
    "head_z": 0.11, "upper_leg": 0.075, "lower_leg": 0.05, "foot": 0.035,
    "upper_arm": 0.047, "forearm": 0.037, "hand_x": 0.02, "hand_y": 0.042,
}
SIDES = (("L", -1.0), ("R", 1.0))


def sample_body(rng):
    """Sizes (metres) of one person: height, limb lengths and girths varied; left and
    right equal, so a mirrored pose gives a mirrored body."""
    height = rng.uniform(1.5, 1.95)
    lengths = {k: v * height * rng.normal(1.0, 0.04) for k, v in LENGTHS.items()}
    girth = rng.uniform(0.85, 1.25)
    radii = {k: v * girth * rng.normal(1.0, 0.06) for k, v in RADII.items()}
    return {**lengths, **{"r_" + k: v for k, v in radii.items()}}


def rot_x(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1.0, 0], [-s, 0, c]])


def rot_z(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def _frame_along(axis):
    """A rotation whose z column is the unit vector along axis (round capsules only)."""
    z = axis / np.linalg.norm(axis)
    helper = np.array([1.0, 0, 0]) if abs(z[0]) < 0.9 else np.array([0, 1.0, 0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z], axis=1)


class Primitives:
    """Collects capsules: centre c (3,), map A (3,3), length h, label, torso split flag."""

    def __init__(self):
        self.items = []

    def capsule(self, p0, p1, radius, label):
        axis = p1 - p0
        self.items.append((p0, _frame_along(axis) * radius, np.linalg.norm(axis) / radius, label, False))

    def shaped(self, origin, rot, semi_axes, length, label, split=False):
        """A capsule of elliptic cross-section in frame rot; length along rot's z."""
        self.items.append((origin, rot * np.asarray(semi_axes), length / semi_axes[2], label, split))

    def arrays(self):
        c, a, h, lab, split = zip(*self.items)
        return {"c": np.array(c), "A": np.array(a), "h": np.array(h),
                "label": np.array(lab, dtype=np.uint8), "split": np.array(split)}


def pose_body(body, pose):
    """Primitive arrays of the body in the pose, in the body frame rotated by the pose's
    global yaw/pitch/roll. The torso's primitive carries split=True: its label is chosen
    per hit point (three bands top to bottom, left/right by the sign of local x)."""
    b, p = body, pose
    root = rot_z(p["yaw"]) @ rot_x(p["pitch"]) @ rot_y(p["roll"])
    spine = root @ rot_z(p["spine_twist"]) @ rot_y(p["spine_lateral"]) @ rot_x(-p["spine_bend"])
    prims = Primitives()
    origin = np.zeros(3)
    ry = b["r_torso_y"]
    prims.shaped(origin, spine, (b["r_torso_x"], ry, ry), b["torso"], L.NAMES.index("torso0L"), split=True)

    neck_base = spine @ np.array([0, 0, b["torso"] + 0.3 * ry])
    head_rot = spine @ rot_z(p["neck_yaw"]) @ rot_x(-p["neck_pitch"])
    head_top = neck_base + head_rot @ np.array([0, 0, b["neck"]])
    prims.capsule(neck_base - spine @ np.array([0, 0, ry]), head_top, b["r_neck"], L.NAMES.index("head"))
    # The head sits forward of the neck and has a nose: front-back cues, without which a
    # depth image would hardly tell the person's left from right.
    head_centre = head_top + head_rot @ np.array([0, 0.3 * b["r_head_y"], 0.8 * b["r_head_z"]])
    prims.shaped(head_centre, head_rot, (b["r_head_x"], b["r_head_y"], b["r_head_z"]), 0.0, L.NAMES.index("head"))
    nose = head_centre + head_rot @ np.array([0, 0.95 * b["r_head_y"], -0.1 * b["r_head_z"]])
    prims.capsule(nose, nose + head_rot @ np.array([0, 0.3 * b["r_head_y"], -0.2 * b["r_head_z"]]),
                  0.2 * b["r_head_x"], L.NAMES.index("head"))

    down = np.array([0, 0, -1.0])
    for name, side in SIDES:
        # Abduction and twist take the side's sign so that a mirrored pose (left and right
        # angles swapped) is the mirror image of the body.
        hip = root @ np.array([side * b["hip_width"] / 2, 0, 0])
        thigh = root @ rot_y(-side * p["hip_abd_" + name]) @ rot_x(p["hip_flex_" + name]) \
            @ rot_z(side * p["hip_twist_" + name])
        knee = hip + thigh @ down * b["upper_leg"]
        shin = thigh @ rot_x(-p["knee_" + name])
        ankle = knee + shin @ down * b["lower_leg"]
        prims.capsule(hip, knee, b["r_upper_leg"], L.NAMES.index("leg0" + name))
        prims.capsule(knee, ankle, b["r_lower_leg"], L.NAMES.index("leg1" + name))
        sole = ankle + shin @ np.array([0, 0, -0.5 * b["ankle"]])
        prims.capsule(sole - shin @ np.array([0, 0.2 * b["foot"], 0]), sole + shin @ np.array([0, 0.7 * b["foot"], 0]),
                      b["r_foot"], L.NAMES.index("leg2" + name))

        shoulder = spine @ np.array([side * b["shoulder_width"] / 2, 0, b["torso"] - 0.2 * ry])
        upper = spine @ rot_y(-side * p["shoulder_abd_" + name]) @ rot_x(p["shoulder_flex_" + name]) \
            @ rot_z(side * p["shoulder_twist_" + name])
        elbow = shoulder + upper @ down * b["upper_arm"]
        fore = upper @ rot_x(p["elbow_" + name])
        wrist = elbow + fore @ down * b["forearm"]
        prims.capsule(shoulder, elbow, b["r_upper_arm"], L.NAMES.index("arm0" + name))
        prims.capsule(elbow, wrist, b["r_forearm"], L.NAMES.index("arm1" + name))
        hand_rot = fore @ rot_x(np.pi)  # local z along the forearm, pointing to the fingers
        hand = (b["r_hand_x"], b["r_hand_y"], b["r_hand_x"])
        prims.shaped(wrist, hand_rot, hand, b["hand"] - 2 * b["r_hand_x"], L.NAMES.index("arm2" + name))
    return prims.arrays()


def z_range(prims):
    """Lowest and highest z reached by the primitives (support of affine capsules along z)."""
    a_z = prims["A"][:, 2, :]
    reach = np.linalg.norm(a_z, axis=1)
    ends = prims["c"][:, 2, None] + np.stack([np.zeros_like(reach), a_z[:, 2] * prims["h"]], axis=1)
    return float((ends.min(axis=1) - reach).min()), float((ends.max(axis=1) + reach).max())
