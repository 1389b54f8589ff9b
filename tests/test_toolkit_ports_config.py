"""airkit ports hints (chip families, Bluetooth, busy port with its holder) and airkit config."""

import json
import os
import pty
import subprocess
import sys

import pytest
import serial
from serial.tools.list_ports_common import ListPortInfo

from airkit.cli import main
from airkit.ports import chip_family, describe, probe


def info(device, vid=None, pid=None, desc="n/a", serial_number=None):
    i = ListPortInfo(device, skip_link_detection=True)
    i.vid, i.pid, i.description, i.serial_number = vid, pid, desc, serial_number
    return i


def test_chip_families():
    assert chip_family(0x10C4, 0xEA60) == "CP210x" and chip_family(0x1A86, 0x7523) == "CH340"
    assert chip_family(0x1A86, 0x55D4) == "CH9102" and chip_family(0x0403, 0x6001) == "FTDI"
    assert chip_family(0x303A, 0x1001) == "Espressif native USB" and chip_family(0x1234, 0x5678) is None


def test_bluetooth_ignored_and_known_board():
    bt = describe(info("/dev/cu.Bluetooth-Incoming-Port", desc="Bluetooth-Incoming-Port"), check_open=False)
    assert not bt["likely_board"] and "Bluetooth" in bt["hint"]
    cp = describe(info("/dev/ttyUSB0", 0x10C4, 0xEA60, "CP2102 USB to UART", "0001"), check_open=False)
    assert cp["likely_board"] and cp["chip"] == "CP210x" and cp["vid_pid"] == "10c4:ea60"


def test_busy_port_names_its_holder(tmp_path):
    master, slave = pty.openpty()
    dev = os.ttyname(slave)
    holder = subprocess.Popen([sys.executable, "-c",
                               "import serial,sys,time; s=serial.Serial(sys.argv[1], exclusive=True); "
                               "print('open', flush=True); time.sleep(30)", dev], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        hint = probe(dev)
        assert hint.startswith("busy: held by") and "pid %d" % holder.pid in hint
        assert main(["deploy", "--port", dev]) == 3
    finally:
        holder.kill()
        holder.wait()
        os.close(master)
        os.close(slave)


def test_ports_command_runs(capsys):
    assert main(["ports", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert isinstance(out["ports"], list)


def test_config_init_set_show_validate(tmp_path, capsys):
    f = str(tmp_path / "c.json")
    assert main(["config", "init", f, "--board", "esp32-c3-devkitm", "--device-id", "s-1"]) == 0
    cfg = json.loads(open(f).read())
    assert cfg["pms"] == {"uart": 1, "tx": 5, "rx": 4, "set": None} and cfg["dht"]["pin"] == 6
    assert main(["config", "set", f, "wifi.ssid=school", "wifi.password=s3cret-pw", "interval_s=600"]) == 0
    out = capsys.readouterr().out
    assert "s3cret-pw" not in out
    assert main(["config", "show", f]) == 0
    shown = capsys.readouterr().out
    assert "s3cret-pw" not in shown and '"password": "***"' in shown and '"interval_s": 600' in shown
    assert main(["config", "set", f, "interval_s=5"]) == 2
    assert "between 60 and 3600" in capsys.readouterr().err
    assert main(["config", "set", f, "wifi.sid=x"]) == 2
    assert "did you mean wifi.ssid" in capsys.readouterr().err
    assert main(["config", "validate", f]) == 0
    json.dump({"interval_s": "fast", "pms": {"tx": 99}}, open(tmp_path / "bad.json", "w"))
    assert main(["config", "validate", str(tmp_path / "bad.json")]) == 1
    out = capsys.readouterr()
    assert "interval_s" in out.out and "pms.tx" in out.out and "2 problem(s)" in out.err
    assert main(["config", "init", f]) == 5                     # refused overwrite
    assert main(["config", "init", str(tmp_path / "new.json"), "--board", "nope"]) == 2
