"""Smart dowel: the polling core and everything that touches hardware (never the web).

Layers, bottom to top; each folder is one, and imports only point down:
  hw/ pins, electrical model, ADS1x15 driver, LED/buzzer/button · hw/mock/ the emulated chip and mock pins
  analysis/ pure contact, tilt, rep and set logic: numbers and timestamps in, events out
  runtime/ the threads: clock, event bus, polling core, history writer · history/ SQLite store, trends, export
  sim/ simulated athlete, traces, replay · bench/ benchmarks · cli/ the `dowel` command, the only part that sees web/
"""

__version__ = "0.1.0"
