"""The setup portal's page (the form, or "saved"), written in pieces.

Loaded by ``portal.py`` only while it writes a page, then forgotten, so the
portal's heap never holds this code and the config rules at once. Everything a
user or a scan supplied goes through ``out.e`` (HTML-escaped); secrets are
never written (``show`` only says whether one is stored).
"""

from airkit_fw.web.server import Texts, static


def write(portal, out, lang, show, problems, status):
    tx = Texts(lang)
    try:
        out.start(status, extra="Set-Cookie: lang=%s; Path=/\r\n" % lang)
        _head(portal, out, tx, lang)
        if show is None:
            _saved(portal, out, tx)
        else:
            _form(portal, out, tx, lang, show, problems)
    finally:
        tx.close()


def _head(portal, out, tx, lang):
    out.w('<!doctype html><html lang="%s"><head><meta charset="utf-8">'
          '<meta name="viewport" content="width=device-width,initial-scale=1"><title>' % lang)
    out.w(tx.t("title"))
    out.w("</title><style>")
    static(out, "css")
    static(out, "css_portal")
    out.w("</style></head><body><header><b>")
    out.e(portal.name)
    out.w('</b> <nav><a href="/?lang=en" lang="en">English</a> · '
          '<a href="/?lang=zh-TW" lang="zh-TW">中文</a></nav></header><main>')


def _saved(portal, out, tx):
    out.w("<h2>")
    out.w(tx.t("saved"))
    out.w("</h2><p>")
    out.w(tx.t("saved_text"))
    out.w(" <b>")
    out.e(portal.saved)
    out.w("</b></p></main></body></html>")


def _form(portal, out, tx, lang, show, problems):
    w = out.w
    e = out.e
    t = tx.t
    w("<h1>")
    w(t("title"))
    w("</h1><p>")
    w(t("intro"))
    w("</p>")
    if problems:
        w('<div class="err" role="alert"><b>')
        w(t("fix"))
        w("</b><ul>")
        for p in problems:
            w("<li>")
            e(p)
            w("</li>")
        w("</ul></div>")
    w('<form method="post" action="/save"><input type="hidden" name="lang" value="%s">' % lang)
    # --- WiFi
    w("<fieldset><legend>")
    w(t("wifi"))
    w("</legend>")
    cur = show["ssid"]
    listed = False
    for ssid, rssi in portal.nets:
        bars = 4 if rssi >= -55 else 3 if rssi >= -67 else 2 if rssi >= -75 else 1
        chk = ssid == cur
        listed = listed or chk
        w('<label class="net"><input type="radio" name="ssid" value="')
        e(ssid)
        w('"%s> <span class="ssid">' % (" checked" if chk else ""))
        e(ssid)
        w('</span> <span class="sig"><meter min="0" max="4" value="%d"></meter> %d dBm</span></label>'
          % (bars, rssi))
    if not portal.nets:
        w("<p>")
        w(t("none_found"))
        w("</p>")
    w('<label class="net"><input type="radio" name="ssid" value=""%s> ' % ("" if listed else " checked"))
    w(t("other"))
    w(' <input name="ssid_other" maxlength="32" value="')
    e("" if listed else cur)
    w('"></label><p><a href="/rescan">')
    w(t("rescan"))
    w("</a></p><label>")
    w(t("password"))
    w(' <input type="password" name="password" maxlength="64" autocomplete="new-password" placeholder="')
    w(t("keep") if show["has_pw"] else "")
    w('"></label></fieldset>')
    # --- station
    w("<fieldset><legend>")
    w(t("station"))
    w("</legend><label>")
    w(t("name"))
    w(' <input name="name" maxlength="60" value="')
    e(show["name"])
    w('"></label><div class="row"><label>')
    w(t("lat"))
    w(' <input name="lat" id="lat" inputmode="decimal" value="')
    e(show["lat"])
    w('"></label><label>')
    w(t("lon"))
    w(' <input name="lon" id="lon" inputmode="decimal" value="')
    e(show["lon"])
    w('"></label></div><button type="button" id="geo" hidden>')
    w(t("locate"))
    w("</button></fieldset>")
    # --- uplinks
    w("<fieldset><legend>")
    w(t("uplinks"))
    w('</legend><label><input type="checkbox" name="sc" value="1"%s> Sensor.Community</label><p class="hint">'
      % (" checked" if show["sc"] else ""))
    w(t("sc_hint"))
    w(" <code>%s</code></p><label>" % portal.node)
    w(t("url"))
    w(' <input name="url" type="url" maxlength="200" placeholder="http://school-server:8000/api/v1/batch" value="')
    e(show["url"])
    w('"></label><label>')
    w(t("token"))
    w(' <input type="password" name="token" maxlength="200" autocomplete="off" placeholder="')
    w(t("keep") if show["has_token"] else "")
    w('"></label><label><input type="checkbox" name="status" value="1"%s> ' % (" checked" if show["status"] else ""))
    w(t("status_page"))
    w('</label></fieldset><button type="submit" id="save">')
    w(t("save"))
    w("</button></form></main><script>")
    static(out, "js_geo")
    w("</script></body></html>")
