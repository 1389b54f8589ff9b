# airkit station: started by MicroPython after boot.py. Never reboots in a loop:
# any start-up problem ends in safe mode with the REPL reachable for the host tools.
try:
    from airkit_fw import app
except Exception as e:  # firmware files missing or broken
    print("airkit SAFE MODE: the firmware files are missing or broken (%r): run 'airkit deploy'" % (e,))
else:
    app.main()
