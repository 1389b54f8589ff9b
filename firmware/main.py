# airkit station: started by MicroPython after boot.py. Never a dead station and never
# a tight boot loop: missing firmware files end in safe mode (REPL free for the host
# tools); a crash (e.g. MemoryError) is counted and retried after a bounded wait and a reset.
try:  # an update over the air runs from a slot folder (ota/a, ota/b), on trial until healthy
    import otaboot
    otaboot.select()
    _trial = otaboot.on_trial()
    if not _trial:  # nothing on trial: free its RAM (about 3 KB)
        import sys
        del sys.modules["otaboot"]
    del otaboot
except Exception:  # no OTA files (older deploy) or unreadable state: the installed firmware runs
    _trial = False
try:  # the setup portal, when wanted (no WiFi set, BOOT held, WiFi failed): before the station loads
    from airkit_fw import web
    web.portal_if_wanted()
    web = None
except Exception as e:  # not installed or broken: the station measures anyway
    print("airkit: no setup portal (%r)" % (e,))
try:
    from airkit_fw import app
except ImportError as e:  # firmware files missing
    if _trial:  # a broken update: restart, and after a few starts it is rolled back
        import machine
        machine.reset()
    print("airkit SAFE MODE: the firmware files are missing or broken (%r): run 'airkit deploy'" % (e,))
except Exception as e:  # out of memory while loading, or a broken module
    try:
        from airkit_fw import board
        board.current().crashed("loading the firmware: %r" % (e,))
    except ImportError:
        print("airkit SAFE MODE: the firmware files are missing or broken (%r): run 'airkit deploy'" % (e,))
    except Exception:
        import machine
        import time
        time.sleep(30)
        machine.reset()
else:
    app.main()
