"""The ADC's lifecycle under settings changes that come from another thread
(the web's PUT /api/settings) while the polling thread opens or reads the chip.
The races are made deterministic: the factory itself changes the settings, as
the other thread would between the polling thread's steps."""
from device.analysis.settings import Settings
from device.runtime.adc_link import AdcLink
from device.runtime.clock import VirtualClock


class FakeAdc:
    def __init__(self, settings):
        self.chip = settings.chip
        self.data_rate = settings.data_rate
        self.gain = settings.gain

    def read_frame(self):
        return (1.0, 1.0, 1.0, 1.65)


def make_link(during_build=None):
    built = []

    def factory(settings):
        adc = FakeAdc(settings)
        built.append(adc)
        if during_build is not None and len(built) == 1:
            during_build()
        return adc

    link = AdcLink(factory, VirtualClock(), lambda t, message: None)
    return link, built


def test_a_rate_change_while_the_chip_is_being_opened_is_applied_before_the_next_read():
    old = Settings()
    new = old.updated({"data_rate": 475})
    holder = {}
    link, built = make_link(during_build=lambda: holder["link"].settings_changed(old, new))
    holder["link"] = link
    assert link.read(old) is not None          # the first open, with the change landing mid-build
    assert link.adc.data_rate == old.data_rate
    assert link.read(old) is not None          # the loop may still hold the old settings object
    assert link.adc.data_rate == 475
    assert len(built) == 1                     # reconfigured, not rebuilt


def test_a_chip_change_while_the_chip_is_being_opened_rebuilds_with_the_new_chip():
    old = Settings()
    new = old.updated({"chip": "ADS1015", "data_rate": 3300})
    holder = {}
    link, built = make_link(during_build=lambda: holder["link"].settings_changed(old, new))
    holder["link"] = link
    link.read(old)
    link.read(old)
    assert [adc.chip for adc in built] == [old.chip, "ADS1015"]
    assert link.adc is built[-1]


def test_an_unchanged_rate_and_gain_leave_the_driver_alone():
    old = Settings()
    link, built = make_link()
    link.read(old)
    link.settings_changed(old, old.updated({"debounce_ms": 30}))
    link.adc.data_rate = -1                    # would be overwritten by a needless reapply
    link.read(old)
    assert link.adc.data_rate == -1 and len(built) == 1


def test_a_chip_change_never_leaves_a_running_read_without_a_driver():
    old = Settings()
    link, built = make_link()
    link.read(old)
    link.settings_changed(old, old.updated({"chip": "ADS1015", "data_rate": 3300}))
    assert link.adc is built[0]                # the polling thread swaps it, on its next read
    link.read(old)
    assert link.adc is built[1] and link.adc.chip == "ADS1015"
