# Start-up on the real MicroPython port: the config schema and the start-up module are
# forgotten once the station is built, and nothing (an uplink constructor, the sampler)
# imports them again, so the heap their drop freed stays free.
import gc
import json
import os
import sys

import mptest
import vworld
import vclock
import vmachine
import vnetwork
import vdht
from airkit_fw import board as board_mod

_TMP = os.getcwd() + "/board"      # the test runs in its own temporary folder

# a school's config: collector (airkit JSON) + Sensor.Community + Home Assistant MQTT,
# and LASS (its constructor read the config schema too)
CONFIG = {"device": {"id": "school-1", "name": "School"}, "wifi": {"ssid": "lab", "password": "pw-123456"},
          "location": {"lat": 25.03, "lon": 121.5},
          "uplinks": [{"type": "airkit_json", "url": "http://127.0.0.1:9/api/v1/batch", "token": "t0ken"},
                      {"type": "sensor_community"},
                      {"type": "mqtt_ha", "url": "mqtt://127.0.0.1:9"},
                      {"type": "lass_mqtt", "host": "127.0.0.1"}]}


def _board(cls=board_mod.Board):
    try:
        os.mkdir(_TMP)
    except OSError:
        pass
    with open(_TMP + "/config.json", "w") as f:
        f.write(json.dumps(CONFIG))
    w = vworld.world()
    clock = vclock.VirtualClock(w)
    vnetwork.attach(w, {"ssid": "other"}, b"\x24\x0a\xc4\x01\x02\x03")
    vdht.attach(w, 15, {})
    m = vmachine.Machine(w, clock, {"uart": {}, "set_pins": {}}, "power-on", b"\x24\x0a\xc4\x01\x02\x03")
    return cls(machine=m, network=None, dht=vdht, clock=clock, fs_root=_TMP, name="test")


def test_config_not_imported_again_after_start_up():
    from airkit_fw import app
    b = _board()
    from airkit_fw import services
    station = services.start(b, app.Station)
    services = None
    assert station is not None, "the config was refused"
    # start-up forgot the schema before building the services: none of them (the uplinks'
    # constructors, the sampler) loaded it again while the station was being built
    assert "airkit_fw.config" not in sys.modules, "building the services imported the config schema again"
    kinds = sorted(u.kind for u in station.services[-1].uplinks)
    mptest.eq(kinds, ["airkit_json", "lass_mqtt", "mqtt_ha", "sensor_community"], "uplinks built")
    app._drop_start_up_modules()
    gc.collect()
    for name in ("airkit_fw.config", "airkit_fw.services", "airkit_fw.uplinks.registry",
                 "airkit_fw.uplinks.sensor_community_spec", "airkit_fw.uplinks.mqtt_ha_spec"):
        assert name not in sys.modules, name + " is still loaded after start-up"
    import airkit_fw
    import airkit_fw.uplinks
    assert not hasattr(airkit_fw, "config") and not hasattr(airkit_fw, "services")
    for name in ("registry", "sensor_community_spec", "airkit_json_spec"):
        assert not hasattr(airkit_fw.uplinks, name), name + " is still held by its package"
    # the station's constructors did not load the schema again (an uplink or the sampler
    # reading config.get would): heap held now is what the running station needs
    held = gc.mem_alloc()
    station.step()
    gc.collect()
    assert "airkit_fw.config" not in sys.modules, "a reading imported the config schema again"
    print("held after start-up", held)


class _Resets(board_mod.Board):
    """The board's crash rule as it is (count, say, wait), with the reset itself recorded."""
    resets = 0

    def reset(self):
        _Resets.resets += 1
        raise SystemExit("reset")


def test_memory_error_in_the_uplinks_is_a_crash_not_a_silent_station():
    # Bug: at batch size 1 an uplink looped on MemoryError forever: alive, measuring, delivering
    # nothing, outside the crash policy. Now it counts as a crash: counters saved, wait, reset.
    from airkit_fw import app
    from airkit_fw.uplinks import airkit_json, base

    def no_memory(self, records, parts):
        raise MemoryError("memory allocation failed, allocating 644 bytes")

    airkit_json.AirkitJson.send = no_memory
    b = _board(_Resets)
    b.crash_streak(0)
    try:
        app.main(b)
    except SystemExit:
        pass
    mptest.eq(_Resets.resets, 1, "resets")
    mptest.eq(b.crash_streak(), 1, "crash counted")


if __name__ == "__main__":
    mptest.main(globals())
