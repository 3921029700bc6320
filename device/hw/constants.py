"""Hardware constants of the reference build (hardware/wiring.md): the one place for them."""

# The three places where the dowel touches the back, in ADC channel order.
POINTS = ("head", "upper_back", "sacrum")
#: Column order of a frame and of a trace file after ``t``.
CHANNELS = POINTS + ("tilt",)

#: ADS1x15 input for each channel (A0..A3).
ADC_CHANNEL = {"head": 0, "upper_back": 1, "sacrum": 2, "tilt": 3}

ADS_ADDRESS = 0x48          # ADDR pin to GND
ADS_GAIN = 1                # +-4.096 V full scale
ADS1115_RATES = (8, 16, 32, 64, 128, 250, 475, 860)
ADS1015_RATES = (128, 250, 490, 920, 1600, 2400, 3300)
DEFAULT_DATA_RATE = {"ADS1115": 860, "ADS1015": 3300}
I2C_BUS_HZ = 400_000
#: The read schedule: the tilt is converted on one frame in this many and held
#: in between (the hinge angle changes about ten times slower than contact),
#: so the three contact points get the conversions.
TILT_EVERY_FRAMES = 4
#: ...and with ALERT/RDY wired the chip converts continuously, the next channel's
#: MUX written while the current conversion runs, so it never waits for the host
#: (DowelAdc's ``ready_edges``); single shots are the fallback.
CONTINUOUS_READS = True

# BCM pin numbers.
PIN_SDA = 2
PIN_SCL = 3
PIN_ALERT_RDY = 23
PIN_LED = 17
PIN_BUZZER = 27
PIN_BUTTON = 22

# Electrical model: FSR in a 10 kOhm divider to ground, tilt from an analog accelerometer.
SUPPLY_V = 3.3
DIVIDER_OHMS = 10_000.0
FSR_REF_OHMS = 10_000.0     # R_fsr at 1 N
FSR_EXPONENT = 0.9
TILT_ZERO_V = 1.65          # upright
TILT_SCALE_V = 0.33         # volts per unit sin(pitch)


def fsr_volts(force_n: float) -> float:
    """Divider output for an FSR loaded with ``force_n`` newtons (0 N reads 0 V)."""
    if force_n <= 0:
        return 0.0
    r_fsr = FSR_REF_OHMS * (1.0 / force_n) ** FSR_EXPONENT
    return SUPPLY_V * DIVIDER_OHMS / (DIVIDER_OHMS + r_fsr)


def volts_to_force(v: float) -> float:
    """Inverse of :func:`fsr_volts`: newtons for a divider voltage (0 for an open FSR)."""
    if v <= 0.001:
        return 0.0
    if v >= SUPPLY_V:
        return float("inf")
    r_fsr = DIVIDER_OHMS * (SUPPLY_V - v) / v
    return (FSR_REF_OHMS / r_fsr) ** (1.0 / FSR_EXPONENT)
