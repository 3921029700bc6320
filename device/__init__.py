"""Smart dowel: the polling core and everything that touches hardware.

Layers, bottom to top (see docs/architecture.md):

* ``hardware``   - pin numbers, I2C address, ADC channels: the one place for them.
* ``ads_emulator`` - an ADS1115/ADS1015 emulated on the I2C register level (mock mode).
* ``adc``        - ``DowelAdc``: the real Adafruit driver over whatever bus it is given.
* ``sources``    - what feeds the emulated chip: a simulated athlete or a recorded trace.
* ``detection``, ``analysis``, ``pipeline`` - pure logic: plain numbers and timestamps in,
  events out.  No I/O, no clocks.
* ``alerts``     - the LED, buzzer and button, gpiozero devices on a pin factory.
* ``core``       - the polling loop: reads frames, feeds the pipeline, drives alerts,
  publishes state and events on an ``EventBus``.  Never imports Flask.
"""

__version__ = "0.1.0"
