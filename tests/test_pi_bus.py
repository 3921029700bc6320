"""Opening the Pi's I2C bus (Blinka stood in for: it imports only on a Pi)."""


def test_opening_the_pi_bus_does_not_warn_about_the_clock(monkeypatch, recwarn):
    """Blinka on Linux warns "I2C frequency is not settable" on every open; the clock
    is config.txt's, so the warning is noise on every start."""
    import sys
    import types
    import warnings

    from device.hw.adc import open_pi_bus

    opened = []

    def fake_i2c(scl, sda, frequency=100000):
        warnings.warn("I2C frequency is not settable in python, ignoring!", RuntimeWarning)
        opened.append((scl, sda))
        return "bus"

    monkeypatch.setitem(sys.modules, "board", types.SimpleNamespace(SCL="SCL", SDA="SDA"))
    monkeypatch.setitem(sys.modules, "busio", types.SimpleNamespace(I2C=fake_i2c))
    assert open_pi_bus() == "bus" and opened == [("SCL", "SDA")]
    assert not [w for w in recwarn if "frequency" in str(w.message)]
