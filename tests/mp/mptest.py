# Tiny test runner for MicroPython-side test scripts (tests/mp/*.py).
# A script defines test_* functions and ends with ``mptest.main(globals())``.
# ``micropython script.py NAME`` runs one test; without NAME it runs them all.
# A failing assert raises and the interpreter exits non-zero with the traceback.
import sys


def main(ns):
    names = sys.argv[1:]
    if not names:
        names = sorted(k for k in ns if k.startswith("test_"))
    for name in names:
        fn = ns.get(name)
        if fn is None:
            raise SystemExit("no test named " + name)
        fn()
        print("PASS " + name)


def eq(a, b, what=""):
    if a != b:
        raise AssertionError("%s: %r != %r" % (what, a, b) if what else "%r != %r" % (a, b))


def raises(exc, fn, *args):
    try:
        fn(*args)
    except exc as e:
        return e
    raise AssertionError("%s not raised" % exc.__name__)
