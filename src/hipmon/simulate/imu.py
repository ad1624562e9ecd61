"""IMU synthesis: what a strapped-on MEMS sensor reads when its segment moves.

For a sensor on segment ``s`` with mounting ``q_sensor_segment`` and lever arm
``r_segment`` (sensor origin in the segment frame, m):

- orientation ``q_sensor_global = q_segment_global ⊗ q_sensor_segment``;
- position ``p_sensor = p_segment + R_segment_global · r_segment``;
- angular rate (sensor frame) from the central difference of orientation,
  ``ω = rotvec(q(t−h)* ⊗ q(t+h)) / 2h`` (h = 0.2 ms, error O(h²));
- specific force (sensor frame) ``f = R_sensor_globalᵀ (p̈_sensor + g ŷ)``, the
  acceleration from the central second difference of the sensor position
  (h = 0.2 ms, taken relative to p(t) to keep round-off below 1e-4 m/s²); it
  therefore contains the tangential and centripetal terms of the lever arm;
- magnetic field (sensor frame) ``m = R_sensor_globalᵀ (B_earth + B_dipole(p_sensor))``;
- with ``soft_tissue`` on, the mounting and lever arm move with time (wobble after
  impacts, slide with the hip angles: ``hipmon.simulate.tissue``) and the same
  differences are taken of the moving sensor's pose.

Then the error model (each part switchable, all draws seeded per sensor):

``gyr = (I + diag(k_g)) ω + b_g + b_g,rw(t) + n_g``;
``acc = (I + diag(k_a)) f + b_a + n_a``; ``mag = (I + S) m + b_hard + n_m``;
acc and gyr clipped at the full-scale range (saturation). Sample instants:
the sensor starts at a random offset, runs at ``rate_hz (1 + e_rate)``
(its IMU oscillator), with Gaussian jitter; its clock reads
``offset + (1 + drift) t`` (drift within ±``clock_drift_ppm``).

Default magnitudes resemble the LSM6DSL (accelerometer and gyroscope) and
LIS2MDL (magnetometer) of the Movesense sensor (ST datasheets; see
docs/simulator.md).
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from hipmon import rotations as rot

from .curves import GRAVITY_MPS2

DEG = np.pi / 180.0


@dataclass
class ImuModel:
    """Sensor error and timing parameters (units in the names). Booleans switch whole effects."""

    rate_hz: float = 208.0
    # noise (white, per axis, at the output rate): density × sqrt(rate / 2)
    noise: float = 1.0  # scale of all white noise (0: off)
    acc_noise_density_ug: float = 90.0  # µg/√Hz (LSM6DSL high-performance mode: 90)
    gyr_noise_density_mdps: float = 4.0  # mdps/√Hz (LSM6DSL: 4)
    mag_noise_ut: float = 0.3  # µT RMS (LIS2MDL: 3 mG)
    # gyroscope bias: constant (drawn per axis) + random walk (bias instability)
    gyro_bias: bool = True
    gyr_bias_dps: float = 1.0  # SD of the constant bias per axis (LSM6DSL zero-rate level typ. ±1..3 dps)
    gyro_bias_drift: bool = True
    gyr_bias_rw_dps_per_sqrt_s: float = 0.01  # bias random walk
    # scale errors (SD, per axis)
    acc_scale: bool = True
    acc_scale_pct: float = 1.0
    gyro_scale: bool = True
    gyr_scale_pct: float = 1.0
    # accelerometer bias (SD per axis; LSM6DSL zero-g level typ. ±40 mg)
    acc_bias: bool = True
    acc_bias_mg: float = 20.0
    # saturation
    saturation: bool = True
    acc_range_g: float = 16.0
    gyr_range_dps: float = 2000.0
    # magnetometer: Earth field + a floor dipole (e.g. a treadmill motor) + hard/soft iron
    earth_field_ut: float = 49.0
    inclination_deg: float = 64.0  # dip angle, field points down in the northern hemisphere
    heading_deg: float = 30.0  # compass heading of global +X (direction faced at calibration)
    mag_disturbance: bool = True
    dipole_moment_am2: float = 5.0
    dipole_position_m: tuple[float, float, float] = (0.3, 0.0, 0.4)  # global, on the floor
    mag_hard_iron_ut: float = 5.0  # SD per axis, sensor frame
    mag_soft_iron_pct: float = 2.0  # SD of the symmetric soft-iron matrix entries
    # placement on the segment
    mounting: object = "default"  # default | aligned | random | {placement: q_sensor_segment}
    lever_arm: bool = True
    # timing and clocks
    timing: bool = True  # start offsets, sample-rate error, jitter
    start_offset_max_s: float = 0.04
    rate_error_ppm: float = 3000.0  # IMU oscillator vs nominal (uniform ±)
    jitter_us: float = 20.0  # SD of sample-instant jitter
    clock: bool = True  # sensor clock offset and drift
    clock_drift_ppm: float = 50.0  # uniform ±
    clock_offset_max_s: float = 3600.0  # sensor uptime at session start, uniform 0..
    # soft-tissue artefact (hipmon.simulate.tissue; docs/simulator.md): the sensor moves on skin and muscle
    soft_tissue: bool = True  # on by default: a real strap on a real body (ImuModel(soft_tissue=False) or ideal=True: rigid)
    soft_tissue_mm: float = 10.0  # translation amplitude of the artefact (thigh)
    soft_tissue_deg: float = 3.0  # rotation amplitude of the artefact (thigh)
    soft_tissue_wobble: float = 0.4  # wobble peak at a full impact, fraction of mm / deg (0: off)
    soft_tissue_hz: float = 15.0  # wobble natural frequency (drawn per sensor within ±20 %)
    soft_tissue_damping: float = 0.3  # wobble damping ratio (drawn per sensor within ±20 %)
    soft_tissue_slide: float = 1.0  # skin slide: fraction of mm / deg reached at 60° of hip angle (0: off)
    soft_tissue_pelvis: float = 0.3  # scale of the pelvis (sacral) sensor's wobble, translation and creep
    soft_tissue_ref_speed_mps: float = 0.5  # touchdown speed of the hip joint centre for a full impact
    # slide rotation gains, rad of sensor rotation per rad of hip angle (measured on the real walk, docs/simulator.md "Realism")
    soft_tissue_axial_flex: float = 0.35  # thigh: about the femur's long axis, per rad of hip flexion
    soft_tissue_axial_add: float = 0.4  # thigh: about the long axis, per rad of hip adduction
    soft_tissue_axial_ir: float = 0.6  # thigh: fraction of the hip's internal rotation the strap does not follow
    soft_tissue_transverse_flex: float = 0.12  # thigh: about a drawn axis in the X-Z plane, per rad of hip flexion
    soft_tissue_pelvis_rock: float = 0.22  # sacrum: about ~X (obliquity), per rad of (flex_L - flex_R)/2
    soft_tissue_pelvis_tilt: float = 0.12  # sacrum: about ~Z (tilt), per rad of (flex_L + flex_R)/2
    # creep: the strap shifts while the body moves (Ornstein-Uhlenbeck in hip flexion travelled)
    soft_tissue_creep_deg: float = 2.0  # stationary SD per axis, deg (thigh; the sacrum: × soft_tissue_pelvis; 0: off)
    soft_tissue_creep_rad: float = 6.0  # correlation, rad of hip flexion travelled (about 5 walking strides)


IMU_FIELDS = tuple(f.name for f in fields(ImuModel))

#: Switches turned off by ``ideal=True`` (and the noise scale set to 0).
IDEAL_OFF = ("gyro_bias", "gyro_bias_drift", "acc_scale", "gyro_scale", "acc_bias", "saturation",
             "mag_disturbance", "timing", "clock", "soft_tissue")

#: Fields that only matter with ``soft_tissue`` on (left out of simulation.json when it is off).
SOFT_TISSUE_FIELDS = tuple(f.name for f in fields(ImuModel) if f.name.startswith("soft_tissue"))

#: Lever arms (sensor origin in the segment frame, m): sacrum for the pelvis
#: (posterior, a little above the hip joint centres), lateral mid-thigh.
DEFAULT_LEVER_ARM_M = {
    "pelvis": np.array([-0.11, 0.04, 0.0]),
    "left_thigh": np.array([0.02, -0.22, -0.075]),
    "right_thigh": np.array([0.02, -0.22, 0.075]),
}


def _frame(x_axis, z_axis) -> np.ndarray:
    """Rotation matrix whose columns are the sensor axes x, y, z in segment coordinates."""
    x = np.asarray(x_axis, float)
    z = np.asarray(z_axis, float)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


def default_mounting(placement: str) -> np.ndarray:
    """A plausible strap-on ``q_sensor_segment`` (4,), deliberately not aligned with the segment axes.

    Pelvis (sacral belt clip): sensor z out of the skin (posterior), x up,
    then tilted 8° / −11° / 15°. Thighs (lateral strap): z out of the skin
    (lateral), x down the thigh, then tilted (rotation vectors in the code).
    """
    if placement == "pelvis":
        base = _frame([0, 1, 0], [-1, 0, 0])
        tilt = np.radians([8.0, -11.0, 15.0])
    elif placement == "left_thigh":
        base = _frame([0, -1, 0], [0, 0, -1])
        tilt = np.radians([-9.0, 6.0, 21.0])
    elif placement == "right_thigh":
        base = _frame([0, -1, 0], [0, 0, 1])
        tilt = np.radians([7.0, -5.0, -18.0])
    else:
        raise ValueError(placement)
    q_base = rot.from_matrix(base)
    return rot.normalize(rot.multiply(rot.from_rotvec(tilt), q_base))


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly distributed unit quaternion (Shoemake 1992), w >= 0."""
    u1, u2, u3 = rng.uniform(size=3)
    q = np.array([
        np.sqrt(u1) * np.cos(2 * np.pi * u3),
        np.sqrt(1 - u1) * np.sin(2 * np.pi * u2),
        np.sqrt(1 - u1) * np.cos(2 * np.pi * u2),
        np.sqrt(u1) * np.sin(2 * np.pi * u3),
    ])
    return q if q[0] >= 0 else -q


def seeded_rng(seed: int, *names: str) -> np.random.Generator:
    """An independent generator for (seed, names): options that change one draw leave the others alone."""
    keys = [int(seed) & 0xFFFFFFFF] + [zlib.crc32(n.encode()) for n in names]
    return np.random.default_rng(keys)


def earth_field_global(model: ImuModel) -> np.ndarray:
    """Earth's magnetic field in the global frame (X forward, Y up, Z right), µT (3,).

    Global +X points to compass heading ``heading_deg`` (clockwise from
    magnetic north seen from above); the field dips ``inclination_deg`` below
    the horizontal (northern hemisphere).
    """
    inc = np.radians(model.inclination_deg)
    psi = np.radians(model.heading_deg)
    horiz = model.earth_field_ut * np.cos(inc)
    # global +X has heading psi (clockwise from north seen from above, Y up):
    # north = cos(psi) X − sin(psi) Z, since Z (right of +X) has heading psi + 90°
    north = np.array([np.cos(psi), 0.0, -np.sin(psi)])
    return horiz * north + np.array([0.0, -model.earth_field_ut * np.sin(inc), 0.0])


def dipole_field_ut(pos_global: np.ndarray, model: ImuModel) -> np.ndarray:
    """Field (µT) at ``pos_global`` (N, 3) of a vertical magnetic dipole on the floor (local disturbance)."""
    r = pos_global - np.asarray(model.dipole_position_m, float)
    d = np.linalg.norm(r, axis=1, keepdims=True)
    d = np.maximum(d, 0.05)
    rhat = r / d
    m = np.array([0.0, model.dipole_moment_am2, 0.0])
    b_tesla = 1e-7 * (3 * rhat * (rhat @ m)[:, None] - m) / d**3
    return b_tesla * 1e6


@dataclass
class SimSensor:
    """One simulated sensor's samples (sensor frame) and its true parameters.

    - ``time_session_s`` (M,): true session time of each sample;
    - ``time_sensor_s`` (M,): the sensor's own clock at each sample;
    - ``acc_sensor`` (M, 3) m/s², ``gyr_sensor`` (M, 3) rad/s, ``mag_sensor`` (M, 3) µT;
    - ``q_sensor_segment`` (4,): true mounting; ``position_segment_m`` (3,): lever arm;
    - ``params``: the drawn errors (biases, scales, clock) for simulation.json;
    - with the soft-tissue artefact only (else None): ``q_sensor_segment_t`` (M, 4) and
      ``position_segment_t_m`` (M, 3), the true mounting and lever arm at each sample
      (``q_sensor_segment`` and ``position_segment_m`` are then the nominal ones, where
      the sensor sits in the standing pose).
    """

    placement: str
    rate_hz: float
    time_session_s: np.ndarray
    time_sensor_s: np.ndarray
    acc_sensor: np.ndarray
    gyr_sensor: np.ndarray
    mag_sensor: np.ndarray
    q_sensor_segment: np.ndarray
    position_segment_m: np.ndarray
    params: dict = field(default_factory=dict)
    q_sensor_segment_t: np.ndarray | None = None
    position_segment_t_m: np.ndarray | None = None

    def session_time_from_sensor_time(self, time_sensor_s: np.ndarray) -> np.ndarray:
        """Invert the sensor clock: session time of a sensor-clock reading (the true clock map)."""
        return (np.asarray(time_sensor_s) - self.params["clock_offset_s"]) / (1.0 + 1e-6 * self.params["clock_drift_ppm"])


def sample_times(placement: str, seconds: float, model: ImuModel, seed: int) -> tuple[np.ndarray, dict]:
    """True session times of a sensor's samples in [0, seconds) and the timing draws."""
    rng = seeded_rng(seed, placement, "timing")
    start = rng.uniform(0.0, model.start_offset_max_s)
    rate_err_ppm = rng.uniform(-model.rate_error_ppm, model.rate_error_ppm)
    jitter_draw = rng.standard_normal(int(seconds * model.rate_hz * 1.02) + 16)
    if not model.timing:
        start, rate_err_ppm = 0.0, 0.0
    rate = model.rate_hz * (1.0 + 1e-6 * rate_err_ppm)
    n = int(np.floor((seconds - start) * rate - 1e-9)) + 1
    t = start + np.arange(n) / rate
    if model.timing and model.jitter_us > 0:
        t = t + 1e-6 * model.jitter_us * jitter_draw[:n]
        t = np.maximum.accumulate(t)  # never out of order
    t = t[(t >= 0) & (t < seconds)]
    return t, {"start_offset_s": float(start), "rate_error_ppm": float(rate_err_ppm),
               "actual_rate_hz": float(rate), "jitter_us": float(model.jitter_us if model.timing else 0.0)}


def synthesize(placement: str, t: np.ndarray, pose_fn, model: ImuModel, seed: int,
               q_sensor_segment: np.ndarray, r_segment: np.ndarray, timing: dict, tissue=None) -> SimSensor:
    """Readings of the sensor on ``placement`` at session times ``t`` (M,).

    ``pose_fn(t) -> (q_segment_global dict, pos_segment_global dict)`` is the
    motion; the sensor's own orientation and position follow from the mounting
    ``q_sensor_segment`` (4,) and lever arm ``r_segment`` (3,) m. ``tissue`` (a
    ``tissue.SoftTissue``, or None for a rigid attachment) moves the sensor on its
    segment: ``tissue.offsets(t) -> (θ, d)`` turn the mounting into
    ``exp(θ(t)) ⊗ q_sensor_segment`` and the lever arm into ``r_segment + d(t)``, and
    the signals are differentiated from that pose.
    """
    h = 2e-4
    m = t.shape[0]
    tt = np.concatenate([t - h, t, t + h])
    q_all, p_all = pose_fn(tt)
    q_seg = q_all[placement]
    p_seg = p_all[placement]
    q_ss_t = r_t = None
    if tissue is None:
        q_sg = rot.normalize(rot.multiply(q_seg, q_sensor_segment[None]))
        p_s = p_seg + rot.rotate(q_seg, np.broadcast_to(r_segment, p_seg.shape))
    else:
        theta, disp = tissue.offsets(tt)
        q_ss_t = rot.normalize(rot.multiply(rot.from_rotvec(theta), q_sensor_segment[None]))
        r_t = np.asarray(r_segment, float)[None] + disp
        q_sg = rot.normalize(rot.multiply(q_seg, q_ss_t))
        p_s = p_seg + rot.rotate(q_seg, r_t)
    qm, q0, qp = q_sg[:m], q_sg[m : 2 * m], q_sg[2 * m :]
    pm, p0, pp = p_s[:m], p_s[m : 2 * m], p_s[2 * m :]
    # angular rate in the sensor frame (central difference of orientation)
    gyr_true = rot.to_rotvec(rot.multiply(rot.conjugate(qm), qp)) / (2 * h)
    # specific force: acceleration + gravity reaction, into the sensor frame
    acc_global = ((pp - p0) + (pm - p0)) / h**2
    f_global = acc_global + np.array([0.0, GRAVITY_MPS2, 0.0])
    q_gs = rot.conjugate(q0)
    acc_true = rot.rotate(q_gs, f_global)
    mag_global = np.broadcast_to(earth_field_global(model), p0.shape).copy()
    if model.mag_disturbance:
        mag_global = mag_global + dipole_field_ut(p0, model)
    mag_true = rot.rotate(q_gs, mag_global)

    rng = seeded_rng(seed, placement, "errors")
    draws = {
        "gyr_bias_rps": rng.standard_normal(3) * model.gyr_bias_dps * DEG,
        "gyr_scale": rng.standard_normal(3) * model.gyr_scale_pct / 100,
        "acc_bias_mps2": rng.standard_normal(3) * model.acc_bias_mg * 1e-3 * GRAVITY_MPS2,
        "acc_scale": rng.standard_normal(3) * model.acc_scale_pct / 100,
        "mag_hard_iron_ut": rng.standard_normal(3) * model.mag_hard_iron_ut,
        "mag_soft_iron": rng.standard_normal(6) * model.mag_soft_iron_pct / 100,
    }
    clock_rng = seeded_rng(seed, placement, "clock")
    clock_offset = clock_rng.uniform(0.0, model.clock_offset_max_s)
    clock_drift = clock_rng.uniform(-model.clock_drift_ppm, model.clock_drift_ppm)
    noise_rng = seeded_rng(seed, placement, "noise")
    n_acc = noise_rng.standard_normal((m, 3))
    n_gyr = noise_rng.standard_normal((m, 3))
    n_mag = noise_rng.standard_normal((m, 3))
    n_rw = noise_rng.standard_normal((m, 3))

    gyr = gyr_true.copy()
    acc = acc_true.copy()
    mag = mag_true.copy()
    if model.gyro_scale:
        gyr = gyr * (1.0 + draws["gyr_scale"])
    if model.acc_scale:
        acc = acc * (1.0 + draws["acc_scale"])
    if model.gyro_bias:
        gyr = gyr + draws["gyr_bias_rps"]
    bias_rw = np.zeros((m, 3))
    if model.gyro_bias_drift and m > 1:
        dt = np.diff(t, prepend=t[0])
        bias_rw = np.cumsum(n_rw * model.gyr_bias_rw_dps_per_sqrt_s * DEG * np.sqrt(dt)[:, None], axis=0)
        gyr = gyr + bias_rw
    if model.acc_bias:
        acc = acc + draws["acc_bias_mps2"]
    if model.mag_disturbance:
        s = draws["mag_soft_iron"]
        soft = np.eye(3) + np.array([[s[0], s[3], s[4]], [s[3], s[1], s[5]], [s[4], s[5], s[2]]])
        mag = mag @ soft.T + draws["mag_hard_iron_ut"]
    if model.noise > 0:
        bw = np.sqrt(model.rate_hz / 2.0)
        acc = acc + n_acc * model.noise * model.acc_noise_density_ug * 1e-6 * GRAVITY_MPS2 * bw
        gyr = gyr + n_gyr * model.noise * model.gyr_noise_density_mdps * 1e-3 * DEG * bw
        mag = mag + n_mag * model.noise * model.mag_noise_ut
    if model.saturation:
        acc = np.clip(acc, -model.acc_range_g * GRAVITY_MPS2, model.acc_range_g * GRAVITY_MPS2)
        gyr = np.clip(gyr, -model.gyr_range_dps * DEG, model.gyr_range_dps * DEG)
    if not model.clock:
        clock_offset, clock_drift = 0.0, 0.0
    time_sensor = clock_offset + (1.0 + 1e-6 * clock_drift) * t
    params = {
        "clock_offset_s": float(clock_offset),
        "clock_drift_ppm": float(clock_drift),
        **timing,
        "gyr_bias_rps": draws["gyr_bias_rps"].tolist() if model.gyro_bias else [0.0, 0.0, 0.0],
        "gyr_bias_drift_final_rps": bias_rw[-1].tolist() if m else [0.0, 0.0, 0.0],
        "gyr_scale": draws["gyr_scale"].tolist() if model.gyro_scale else [0.0, 0.0, 0.0],
        "acc_bias_mps2": draws["acc_bias_mps2"].tolist() if model.acc_bias else [0.0, 0.0, 0.0],
        "acc_scale": draws["acc_scale"].tolist() if model.acc_scale else [0.0, 0.0, 0.0],
        "mag_hard_iron_ut": draws["mag_hard_iron_ut"].tolist() if model.mag_disturbance else [0.0, 0.0, 0.0],
        "mag_soft_iron_sym": draws["mag_soft_iron"].tolist() if model.mag_disturbance else [0.0] * 6,
        "acc_noise_sd_mps2": float(model.noise * model.acc_noise_density_ug * 1e-6 * GRAVITY_MPS2 * np.sqrt(model.rate_hz / 2)),
        "gyr_noise_sd_rps": float(model.noise * model.gyr_noise_density_mdps * 1e-3 * DEG * np.sqrt(model.rate_hz / 2)),
    }
    if tissue is not None:
        params.update(tissue.params())
        d0 = r_t[m : 2 * m] - np.asarray(r_segment, float)[None]
        a0 = rot.angle_between_deg(q_ss_t[m : 2 * m], np.asarray(q_sensor_segment, float)[None])
        params["soft_tissue_max_translation_mm"] = float(1e3 * np.linalg.norm(d0, axis=1).max()) if m else 0.0
        params["soft_tissue_max_rotation_deg"] = float(a0.max()) if m else 0.0
    return SimSensor(
        placement=placement,
        rate_hz=float(model.rate_hz),
        time_session_s=t,
        time_sensor_s=time_sensor,
        acc_sensor=acc,
        gyr_sensor=gyr,
        mag_sensor=mag,
        q_sensor_segment=np.asarray(q_sensor_segment, float),
        position_segment_m=np.asarray(r_segment, float),
        params=params,
        q_sensor_segment_t=None if q_ss_t is None else q_ss_t[m : 2 * m],
        position_segment_t_m=None if r_t is None else r_t[m : 2 * m],
    )


def model_dict(model: ImuModel) -> dict:
    d = asdict(model)
    if not model.soft_tissue:  # a rigid attachment: simulation.json as before the option existed
        for name in SOFT_TISSUE_FIELDS:
            d.pop(name)
    if isinstance(model.mounting, dict):
        d["mounting"] = {k: np.asarray(v, float).tolist() for k, v in model.mounting.items()}
    d["dipole_position_m"] = list(model.dipole_position_m)
    return d
