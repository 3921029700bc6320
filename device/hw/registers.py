"""The ADS1x15 register map (TI ADS111x / ADS101x datasheets, "Register Map"), named once.

Both sides of the wire read it: :class:`device.hw.adc.DowelAdc` builds its
config words and decodes results with it, and the emulated chip
(:mod:`device.hw.mock.ads1x15`) decodes the same words with it, so a bit the
two disagreed on could only be wrong in one place.
"""
from __future__ import annotations

# -- I2C addresses ----------------------------------------------------------------
#: The general call address: a write of :data:`GENERAL_CALL_RESET` resets every ADS1x15.
GENERAL_CALL_ADDRESS = 0x00
GENERAL_CALL_RESET = 0x06
#: SMBus alert response address: a read answers with the address of a chip whose
#: latched comparator holds ALERT/RDY asserted (and clears that latch).
ALERT_RESPONSE_ADDRESS = 0x0C
#: ADDR pin to GND, VDD, SDA, SCL.
ADDRESSES = (0x48, 0x49, 0x4A, 0x4B)

# -- address pointer register ----------------------------------------------------
POINTER_CONVERSION = 0x00
POINTER_CONFIG = 0x01
POINTER_LO_THRESH = 0x02
POINTER_HI_THRESH = 0x03
POINTER_MASK = 0x03

# -- config register fields --------------------------------------------------------
#: Operational status: write 1 starts a single conversion; reads 1 when idle.
OS = 0x8000
MUX_SHIFT, MUX_MASK = 12, 0x7000
PGA_SHIFT, PGA_MASK = 9, 0x0E00
#: MODE: 1 = single-shot (power down after each conversion), 0 = continuous.
MODE_SINGLE = 0x0100
DR_SHIFT, DR_MASK = 5, 0x00E0
COMP_MODE_WINDOW = 0x0010
COMP_POL_ACTIVE_HIGH = 0x0008
COMP_LAT = 0x0004
COMP_QUE_MASK = 0x0003
#: COMP_QUE = 11: comparator off, ALERT/RDY high-impedance.
COMP_QUE_DISABLE = 0x0003
#: Conversions beyond a threshold before ALERT/RDY asserts, per COMP_QUE code 00, 01, 10.
COMP_QUE_COUNTS = (1, 2, 4)

POWER_ON_CONFIG = 0x8583
POWER_ON_LO_THRESH = 0x8000
POWER_ON_HI_THRESH = 0x7FFF

#: ALERT/RDY becomes a conversion-ready output when Hi_thresh's MSB is 1 and
#: Lo_thresh's MSB is 0 (with COMP_QUE not 11).
THRESH_MSB = 0x8000
CONVERSION_READY_HI_THRESH = 0x8000
CONVERSION_READY_LO_THRESH = 0x0000

# -- field values -----------------------------------------------------------------
#: MUX code -> (positive input, negative input or None for GND).
MUX_INPUTS = {0: (0, 1), 1: (0, 3), 2: (1, 3), 3: (2, 3),
              4: (0, None), 5: (1, None), 6: (2, None), 7: (3, None)}
#: MUX code for input AINx against GND.
MUX_SINGLE_ENDED = (4, 5, 6, 7)

#: Full scale in volts per PGA code (101-111 are all +-0.256 V).
PGA_FULL_SCALE_V = (6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256)
#: PGA code per gain as the Adafruit driver names gains.
PGA_CODE = {2 / 3: 0, 1: 1, 2: 2, 4: 3, 8: 4, 16: 5}

#: Samples/s per DR code.  The ADS1015 repeats 3300 for code 111.
DATA_RATES = {
    "ADS1115": (8, 16, 32, 64, 128, 250, 475, 860),
    "ADS1015": (128, 250, 490, 920, 1600, 2400, 3300, 3300),
}
RESOLUTION_BITS = {"ADS1115": 16, "ADS1015": 12}
#: The ADS1015's 12-bit results and thresholds sit left-justified in 16 bits;
#: the 4 low bits are reserved and read 0.
ADS1015_RESERVED_BITS = 0x000F


def field(word: int, shift: int, mask: int) -> int:
    """The value of one field of a register word."""
    return (word & mask) >> shift


def dr_code(model: str, rate: int) -> int:
    """DR code of ``rate`` samples/s for ``model`` (ValueError if it has none)."""
    try:
        return DATA_RATES[model].index(rate)
    except (KeyError, ValueError):
        raise ValueError(f"{model} has no data rate {rate!r}") from None


def config_word(mux: int, pga: int, dr: int, *, single_shot: bool = True, start: bool = False,
                comp_que: int = COMP_QUE_DISABLE, comp_lat: bool = False,
                comp_window: bool = False, comp_active_high: bool = False) -> int:
    """A config register word from its fields (codes, not volts or rates)."""
    word = (mux << MUX_SHIFT) & MUX_MASK | (pga << PGA_SHIFT) & PGA_MASK | (dr << DR_SHIFT) & DR_MASK
    word |= comp_que & COMP_QUE_MASK
    if start:
        word |= OS
    if single_shot:
        word |= MODE_SINGLE
    if comp_lat:
        word |= COMP_LAT
    if comp_window:
        word |= COMP_MODE_WINDOW
    if comp_active_high:
        word |= COMP_POL_ACTIVE_HIGH
    return word


def signed16(word: int) -> int:
    """A 16-bit register word as two's complement."""
    return word - 0x10000 if word & 0x8000 else word


def conversion_code(word: int, model: str) -> int:
    """The signed result code in a conversion register word (12 bits on the ADS1015)."""
    value = signed16(word)
    return value >> 4 if RESOLUTION_BITS[model] == 12 else value


def code_to_volts(code: int, model: str, pga: int) -> float:
    """Volts at the input for a result code at PGA code ``pga``."""
    top = 1 << (RESOLUTION_BITS[model] - 1)
    return code * PGA_FULL_SCALE_V[pga] / top
