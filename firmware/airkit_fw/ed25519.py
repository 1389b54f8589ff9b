# Ed25519 signature check (RFC 8032, verify only), for MicroPython and CPython alike.
#
# Why written here: MicroPython has no Ed25519 and no SHA-512 (its hashlib has
# sha256/sha1); micropython-lib has neither. The host signs with the
# `cryptography` package; this checks on the station. Loaded only while an
# update is being verified (ota.py), then dropped, so it costs no RAM at other
# times. What is signed is the 32-byte SHA-256 of the release manifest, so the
# SHA-512 below runs over one 128-byte block.
#
# Not constant-time: it only checks public data (a signature and a public key).

_P = 2 ** 255 - 19
_L = 2 ** 252 + 27742317777372353535851937790883648493
_D = 37095705934669439343138083508754565189542113879843219016388785533085940283555
_D2 = (2 * _D) % _P
_I = 19681161376707505956807079304988542015446066515923890162744021073123829784752   # sqrt(-1)
_BX = 15112221349535400772501151409588531511454012693041857206046113283949847762202
_BY = 46316835694926478169428394003475163141307993866256225615783033603165251855960

_M64 = 0xFFFFFFFFFFFFFFFF
_K = None     # SHA-512 round constants, built on first use (first 64 bits of the cube roots' fractions)


def _k():
    global _K
    if _K is None:
        k = [0] * 80
        i, n = 0, 2
        while i < 80:
            if all(n % q for q in range(2, n) if q * q <= n):
                k[i] = _icbrt_frac(n)
                i += 1
            n += 1
        _K = k
    return _K


def _icbrt_frac(n):
    # floor(cbrt(n) * 2**64) mod 2**64, by integer Newton iteration (exact, no floats)
    t = n << 192                    # n < 420: the root is below 2**68 (MicroPython ints have no bit_length)
    x = 1 << 68
    while True:
        y = (2 * x + t // (x * x)) // 3
        if y >= x:
            break
        x = y
    while x * x * x > t:
        x -= 1
    return x & _M64


def _isqrt_frac(n):
    t = n << 128                    # n < 20: the root is below 2**67
    x = 1 << 67
    while True:
        y = (x + t // x) // 2
        if y >= x:
            break
        x = y
    return x & _M64


def _rotr(x, n):
    return ((x >> n) | (x << (64 - n))) & _M64


def sha512(data):
    """SHA-512 of bytes (FIPS 180-4), pure Python."""
    k = _k()
    h = []
    n = 2
    while len(h) < 8:
        if all(n % q for q in range(2, n) if q * q <= n):
            h.append(_isqrt_frac(n))
        n += 1
    ml = len(data)
    data = bytes(data) + b"\x80" + bytes((111 - ml) % 128) + (ml * 8).to_bytes(16, "big")
    for off in range(0, len(data), 128):
        w = [0] * 80                # allocated once per block, never grown
        for i in range(16):
            w[i] = int.from_bytes(data[off + 8 * i:off + 8 * i + 8], "big")
        for i in range(16, 80):
            a, b = w[i - 15], w[i - 2]
            s0 = _rotr(a, 1) ^ _rotr(a, 8) ^ (a >> 7)
            s1 = _rotr(b, 19) ^ _rotr(b, 61) ^ (b >> 6)
            w[i] = (w[i - 16] + s0 + w[i - 7] + s1) & _M64
        a, b, c, d, e, f, g, hh = h
        for i in range(80):
            t1 = (hh + (_rotr(e, 14) ^ _rotr(e, 18) ^ _rotr(e, 41)) + ((e & f) ^ (~e & g)) + k[i] + w[i]) & _M64
            t2 = ((_rotr(a, 28) ^ _rotr(a, 34) ^ _rotr(a, 39)) + ((a & b) ^ (a & c) ^ (b & c))) & _M64
            hh, g, f, e, d, c, b, a = g, f, e, (d + t1) & _M64, c, b, a, (t1 + t2) & _M64
        h = [(x + y) & _M64 for x, y in zip(h, (a, b, c, d, e, f, g, hh))]
    return b"".join(x.to_bytes(8, "big") for x in h)


def _inv(x):
    return pow(x, _P - 2, _P)


def _add(p, q):
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = t1 * _D2 * t2 % _P
    d = 2 * z1 * z2 % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return e * f % _P, g * h % _P, f * g % _P, e * h % _P


def _double(p):
    x1, y1, z1, _ = p
    a = x1 * x1 % _P
    b = y1 * y1 % _P
    c = 2 * z1 * z1 % _P
    h = a + b
    e = h - (x1 + y1) * (x1 + y1) % _P
    g = a - b
    f = c + g
    return e * f % _P, g * h % _P, f * g % _P, e * h % _P


def _decode_point(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= _P:
        return None
    x2 = (y * y - 1) * _inv(_D * y * y + 1) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _I % _P
        if (x * x - x2) % _P:
            return None
    if x & 1 != sign:
        if x == 0:
            return None
        x = _P - x
    return x, y, 1, x * y % _P


def _encode(p):
    x, y, z, _ = p
    zi = _inv(z)
    x, y = x * zi % _P, y * zi % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def verify(public_key, message, signature):
    """True when ``signature`` (64 bytes) is ``message`` signed by ``public_key`` (32 bytes)."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = _decode_point(bytes(public_key))
    if a is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:
        return False
    k = int.from_bytes(sha512(bytes(signature[:32]) + bytes(public_key) + bytes(message)), "little") % _L
    # [s]B - [k]A in one pass (Straus): the table holds B, -A and B - A.
    neg_a = ((_P - a[0]) % _P, a[1], 1, (_P - a[3]) % _P)
    base = (_BX, _BY, 1, _BX * _BY % _P)
    both = _add(base, neg_a)
    acc = (0, 1, 1, 0)
    for i in range(252, -1, -1):    # s, k < L < 2**253
        acc = _double(acc)
        bs, bk = (s >> i) & 1, (k >> i) & 1
        if bs and bk:
            acc = _add(acc, both)
        elif bs:
            acc = _add(acc, base)
        elif bk:
            acc = _add(acc, neg_a)
    return _encode(acc) == bytes(signature[:32])
