"""The status page's HTML, written in pieces (loaded by ``status.py`` for one answer,
then forgotten). Names, flags and uplink names go through ``out.e`` (escaped)."""

import gc

from airkit_fw.web.server import Texts, static


def write(page, out, lang):
    tx = Texts(lang)
    try:
        out.start(extra="Set-Cookie: lang=%s; Path=/\r\n" % lang)
        _page(page, out, tx.t, lang)
    finally:
        tx.close()


def _page(self, out, t, lang):
    w = out.w
    e = out.e
    st = self.station
    w('<!doctype html><html lang="%s"><head><meta charset="utf-8"><meta http-equiv="refresh" content="60">'
      '<meta name="viewport" content="width=device-width,initial-scale=1"><title>' % lang)
    w(t("st_title"))
    w("</title><style>")
    static(out, "css")
    static(out, "css_status")
    w("</style></head><body><header><b>")
    e(st.station_id)
    w('</b> <nav><a href="/?lang=en" lang="en">English</a> · <a href="/?lang=zh-TW" lang="zh-TW">中文</a>'
      ' · <a href="/data.json">data.json</a></nav></header><main><h2>')
    w(t("st_reading"))
    w("</h2>")
    d = self.last
    if d is None:
        w("<p>")
        w(t("st_none"))
        w("</p>")
    else:
        w("<table><tr><th>")
        w(t("st_time"))
        w("</th><td>")
        e(d.get("time") or "?")
        w(" (%d s)</td></tr>" % self.age_s())
        for label, key, unit in (("PM1", "pm1_atm", "µg/m³"), ("PM2.5", "pm25_atm", "µg/m³"),
                                 ("PM10", "pm10_atm", "µg/m³"), ("PM2.5 (corr.)", "pm25_corrected", "µg/m³"),
                                 ("st_temp", "temp_c", "°C"), ("st_rh", "rh", "%")):
            if key not in d:
                continue
            v = d[key]
            w("<tr><th>")
            w(t(label) if label.startswith("st_") else label)
            w("</th><td>")
            w("—" if v is None else ("%.1f %s" % (v, unit)))
            w("</td></tr>")
        w("<tr><th>")
        w(t("st_flags"))
        w('</th><td class="flags">')
        fl = d.get("flags") or ()
        if not fl:
            w(t("st_ok"))
        for f in fl:
            w("<span>")
            e(f)
            w("</span> ")
        w("</td></tr></table>")
    ups = None
    for s in st.services:
        if hasattr(s, "uplinks") and hasattr(s, "status"):
            ups = s
    if ups is not None:
        w("<h2>")
        w(t("st_uplinks"))
        w("</h2><table><tr><th></th><th>")
        w(t("st_state"))
        w("</th><th>")
        w(t("st_backlog"))
        w("</th><th>")
        w(t("st_sent"))
        w("</th></tr>")
        j = ups.journal
        dl = j.meta.get("delivered", {})
        for u in ups.uplinks:
            w("<tr><td>")
            e(u.name)
            w("</td><td>")
            e(u.state)
            w("</td><td>%d</td><td>%d</td></tr>" % (j.last_seq - u.cur, dl.get(u.name, 0)))
        w("</table>")
    w("<h2>")
    w(t("st_station"))
    w("</h2><table><tr><th>")
    w(t("st_fw"))
    w("</th><td>%s</td></tr><tr><th>" % self.software)
    w(t("st_up"))
    up = self.up_ms // 1000
    w("</th><td>%dd %02d:%02d:%02d</td></tr><tr><th>" % (up // 86400, up // 3600 % 24, up // 60 % 60, up % 60))
    w(t("st_heap"))
    w("</th><td>%d B</td></tr>" % gc.mem_free())
    rssi = self._rssi()
    if rssi is not None:
        w("<tr><th>")
        w(t("st_wifi"))
        w("</th><td>%d dBm</td></tr>" % rssi)
    w("</table></main></body></html>")
