"""`airkit calibrate push` against the virtual board (its REPL on a pseudo-terminal):
the correction lands in /config.json, the rest of the config is kept, and the
board's own copy of airkit_fw.correction computes the same value as the host."""

import json

import pytest

from airkit.calibrate import cli, push
from airkit_fw import correction as fw

from toolkit_helpers import RunningBoard

CORR = {"kind": "mlr", "name": "test site 2024", "coef": {"intercept": 4.2, "pm": 0.51, "rh": -0.07, "t": 0.03},
        "valid": {"pm": [0, 120], "rh": [20, 97], "t": [-5, 35]}, "floor": 0.0}


def _read_back(port, code):
    from mpremote.transport_serial import SerialTransport
    t = SerialTransport(port, baudrate=115200)
    try:
        t.enter_raw_repl(soft_reset=False)
        return t.exec(code).decode()
    finally:
        try:
            t.exit_raw_repl()
        finally:
            t.close()


@pytest.mark.slow
def test_push_writes_correction_and_board_computes_the_same(tmp_path, capsys):
    model = tmp_path / "model.json"
    model.write_text(json.dumps({"format": "airkit-calibration-model", "correction": CORR}))
    with RunningBoard(tmp_path, config={"station": "calib-test", "interval_s": 300}) as b:
        assert cli.main(["calibrate", "push", "--model", str(model), "--port", b.port]) == 0
        assert "written to /config.json" in capsys.readouterr().err
        out = _read_back(b.port, "import json\nprint(json.dumps(json.load(open('/config.json'))))")
        cfg = json.loads(out.strip().splitlines()[-1])
        assert cfg["correction"] == CORR
        assert cfg.get("station") == "calib-test"          # the rest of the config is kept
        # the board evaluates the pushed correction with its own module
        code = ("import json\nfrom airkit_fw import correction as c\ncfg = json.load(open('/config.json'))\n"
                "k = c.from_config(cfg)\nprint(repr(c.correct(k, 35.5, 81.0, 12.5)), c.out_of_range(k, 150.0, 50.0, 10.0),"
                " c.label(k))")
        line = _read_back(b.port, code).strip().splitlines()[-1].split()
        assert float(line[0]) == pytest.approx(fw.correct(CORR, 35.5, 81.0, 12.5), rel=1e-15)
        assert int(line[1]) == fw.OUT_PM
        assert " ".join(line[2:]) == "test site 2024"


def test_push_to_a_missing_port_is_one_clear_line(tmp_path, capsys):
    model = tmp_path / "model.json"
    model.write_text(json.dumps({"correction": {"kind": "epa_2021"}}))
    rc = cli.main(["calibrate", "push", "--model", str(model), "--port", str(tmp_path / "nope")])
    err = capsys.readouterr().err.strip()
    assert rc == 3 and "does not exist" in err and "Traceback" not in err


def test_push_refuses_a_model_the_board_cannot_run(tmp_path, capsys):
    model = tmp_path / "model.json"
    model.write_text(json.dumps({"correction": {"kind": "gbm"}}))
    assert cli.main(["calibrate", "push", "--model", str(model), "--port", "/dev/null"]) == 2
    assert "cannot run on the device" in capsys.readouterr().err


def test_push_detects_a_corrupt_board_config():
    class FakeTransport:
        def enter_raw_repl(self, soft_reset=True):
            pass

        def exec(self, code):
            assert "os.rename" in code and "/config.json.tmp" in code    # write to temp, then rename
            return b"AIRKIT-BADCONFIG\r\n"

    with pytest.raises(Exception) as e:
        push.push({"kind": "epa_2021"}, "fake", transport=FakeTransport())
    assert "not valid JSON" in str(e.value)
