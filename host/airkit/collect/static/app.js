/* airkit collect dashboard: map, station pages with SVG charts, network health.
 * Plain JavaScript, no build step; Leaflet (from npm, copied at build time) draws the map. */
(function () {
  "use strict";
  var state = {config: null, latest: null, map: null, layer: null, range: "24h", station: null};
  var RANGES = {"24h": {every: "raw", span: 86400, label: "last 24 hours"},
                "7d": {every: "hourly", span: 7 * 86400, label: "last 7 days, hourly averages"},
                "30d": {every: "hourly", span: 30 * 86400, label: "last 30 days, hourly averages"}};
  var PAGE = 50;                       // station table rows per page
  var table = {page: 0, sort: "name", dir: 1, q: ""};
  var SILENT_COLOUR = "#9e9e9e";

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    // style through the CSSOM: the Content-Security-Policy blocks style attributes, not this
    for (var k in (attrs || {})) { if (k === "style") e.style.cssText = attrs[k]; else e.setAttribute(k, attrs[k]); }
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function escapeHtml(t) {
    return String(t).replace(/[&<>"']/g, function (c) { return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c]; });
  }
  function safeHref(u) { return /^https?:\/\/[^\s"'<>\\]+$/i.test(u || "") ? u : null; }
  function getJSON(url) {
    return fetch(url).then(function (r) {
      if (!r.ok) throw new Error(url + ": HTTP " + r.status);
      return r.json();
    });
  }
  function fmt(v, digits) {
    if (v === null || v === undefined) return "-";
    return Number(v).toFixed(digits === undefined ? 1 : digits);
  }
  function ago(seconds) {
    if (seconds === null || seconds === undefined) return t("never");
    if (seconds < 90) return t("{0} s ago", Math.round(seconds));
    if (seconds < 5400) return t("{0} min ago", Math.round(seconds / 60));
    if (seconds < 172800) return t("{0} h ago", Math.round(seconds / 3600));
    return t("{0} days ago", Math.round(seconds / 86400));
  }
  /* What each quality flag means, in words a teacher understands (names from the firmware's sampler). */
  var FLAG_TEXT = {
    pms_missing: "the particle sensor did not answer",
    pms_few_frames: "the particle sensor sent fewer frames than usual",
    warmup_short: "the particle sensor's fan had less warm-up time than usual",
    dht_failed: "the humidity/temperature sensor did not answer",
    dht_stuck: "the humidity/temperature sensor repeated the same value (probably stuck)",
    dht_implausible: "the humidity/temperature sensor gave an impossible value",
    pms_b_missing: "the second particle sensor (B) did not answer",
    ab_disagree: "the two particle sensors (A and B) disagree: one may be dirty or broken",
    pms_unsupported: "the particle sensor is of an unknown model",
    pms_stuck: "the particle sensor repeated the same value (probably stuck)",
    time_unsynced: "the station's clock was not set: the reading time is uncertain",
    correction_out_of_range: "conditions outside the range the correction was fitted on"
  };
  function flagText(f) {
    if (FLAG_TEXT[f]) return t(FLAG_TEXT[f]);
    var m = f.match(/^range:([a-z0-9_]+)=(.*)$/);
    if (m) return t("the station sent {0} = {1}, outside what the sensor can measure: not stored", m[1], m[2]);
    return "";
  }
  function flagLine(f, extra) { var tx = flagText(f); return f + (extra || "") + (tx ? " \u2014 " + tx : ""); }
  /* "(reading from 5 h ago)" when the newest reading is older than the silence limit (a backlog arriving). */
  function staleNote(s) {
    return s.health && s.health.stale ? t(" (reading from {0})", ago(s.health.reading_age_s)) : "";
  }
  function scale() { return $("aqi").value; }
  function pmOf(s) { return s.pm25_corrected !== null && s.pm25_corrected !== undefined ? s.pm25_corrected : s.pm25_atm; }
  function colourOf(s) {
    if (s.health && s.health.silent) return SILENT_COLOUR;
    var a = aqiOf(scale(), pmOf(s));
    return a ? a.colour : SILENT_COLOUR;
  }
  function label(s) { return s.name || s.id; }

  /* ---------- map and station list ---------- */
  function initMap() {
    if (state.map || typeof L === "undefined") return;
    state.map = L.map("map", {preferCanvas: false, maxZoom: 18}).setView([20, 0], 2);
    var tiles = state.config.tiles;
    if (tiles) {
      // Leaflet renders attribution as HTML: the operator's text is escaped first (never live markup)
      var layer = L.tileLayer(tiles, {maxZoom: 18, attribution: escapeHtml(state.config.tiles_attribution || "")});
      var failed = 0;
      layer.on("tileerror", function () { failed++; if (failed >= 2) $("tiles-note").hidden = false; });
      layer.addTo(state.map);
    } else {
      $("tiles-note").textContent = t("No map background is configured: station positions and values only.");
      $("tiles-note").hidden = false;
    }
    state.layer = L.layerGroup().addTo(state.map);
  }

  /* A network (more than CLUSTER_FROM stations): stations are clustered (leaflet.markercluster),
   * each cluster shows how many stations it holds, coloured by their mean PM2.5; zoomed in,
   * each station is a pin with its PM2.5 value on it (grey and dashed when silent). */
  var CLUSTER_FROM = 200;
  function clusterLayer() {
    return L.markerClusterGroup({chunkedLoading: true, showCoverageOnHover: false, maxClusterRadius: 60,
      disableClusteringAtZoom: 15, iconCreateFunction: function (c) {
        var kids = c.getAllChildMarkers(), sum = 0, n = 0;
        kids.forEach(function (m) { var v = m.options.pm; if (v !== null && v !== undefined && !m.options.silent) { sum += v; n++; } });
        var q = n ? aqiOf(scale(), sum / n) : null;
        var d = el("div", {"class": "cluster", "data-count": String(kids.length)}, String(kids.length));
        d.style.background = q ? q.colour : SILENT_COLOUR;
        var size = kids.length < 10 ? 30 : kids.length < 100 ? 38 : 46;
        return L.divIcon({html: d, className: "cluster-icon", iconSize: [size, size]});
      }});
  }
  function pin(s, silent) {
    var v = pmOf(s);
    var d = el("div", {"class": "pin" + (silent ? " silent" : ""), "data-station": s.id},
               silent || v === null || v === undefined ? "\u2013" : String(Math.round(v)));
    d.style.background = colourOf(s);
    return L.marker([s.lat, s.lon], {icon: L.divIcon({html: d, className: "station-marker station-pin", iconSize: [30, 22]}),
                                     pm: v, silent: silent, title: label(s)});
  }

  function drawMap() {
    initMap();
    var stations = state.latest.stations;
    if (state.layer) {
      var clustered = typeof L.markerClusterGroup === "function" && stations.length > CLUSTER_FROM;
      if (clustered !== !!state.clustered) {
        state.map.removeLayer(state.layer);
        state.layer = (clustered ? clusterLayer() : L.layerGroup()).addTo(state.map);
        state.clustered = clustered;
      }
      state.layer.clearLayers();
      var pts = [], batch = [];
      stations.forEach(function (s) {
        if (s.lat === null || s.lon === null || s.lat === undefined) return;
        var silent = s.health && s.health.silent;
        if (clustered) {
          var p = pin(s, silent);
          p.on("click", function () { location.hash = "#/station/" + encodeURIComponent(s.id); });
          batch.push(p);
          pts.push([s.lat, s.lon]);
          return;
        }
        var m = L.circleMarker([s.lat, s.lon], {
          radius: stations.length > 500 ? 6 : 11, color: silent ? "#555" : "#333", weight: silent ? 2 : 1,
          dashArray: silent ? "3 3" : null, fillColor: colourOf(s), fillOpacity: 0.9,
          className: "station-marker" + (silent ? " silent" : "")
        });
        var a = aqiOf(scale(), pmOf(s));
        // a DOM node, never an HTML string: station ids can come from anyone publishing on the MQTT broker
        m.bindTooltip(el("span", {"class": "tip"}, label(s) + ": " + (silent ? t("silent") : fmt(pmOf(s)) + " \u00b5g/m\u00b3" + (a ? " (" + t(a.label) + ")" : ""))));
        m.on("click", function () { location.hash = "#/station/" + encodeURIComponent(s.id); });
        m.addTo(state.layer);
        m.getElement && m.getElement() && m.getElement().setAttribute("data-station", s.id);
        pts.push([s.lat, s.lon]);
      });
      if (clustered) state.layer.addLayers(batch);
      document.body.setAttribute("data-markers", String(pts.length));
      if (pts.length && !state.fitted) {
        state.map.fitBounds(pts, {padding: [30, 30], maxZoom: 14});
        state.fitted = true;
      }
      setTimeout(function () { state.map.invalidateSize(); }, 0);
    }
    drawTable(stations);
    drawLegend();
  }

  function drawTable(all) {
    var tb = $("station-table").tBodies[0];
    tb.textContent = "";
    var q = table.q.trim().toLowerCase();
    var stations = all.filter(function (s) {
      return !q || String(s.id).toLowerCase().indexOf(q) >= 0 || String(s.name || "").toLowerCase().indexOf(q) >= 0;
    });
    var key = {name: function (s) { return String(label(s)).toLowerCase(); },
               pm: function (s) { var v = pmOf(s); return s.health.silent || v === null || v === undefined ? -1 : v; },
               seen: function (s) { return s.health.silent_for_s === null ? 1e12 : s.health.silent_for_s; }}[table.sort];
    stations.sort(function (a, b) { var x = key(a), y = key(b); return (x < y ? -1 : x > y ? 1 : 0) * table.dir; });
    var pages = Math.max(1, Math.ceil(stations.length / PAGE));
    if (table.page >= pages) table.page = pages - 1;
    $("table-count").textContent = t("{0} stations", stations.length);
    $("page").textContent = t("Page {0} of {1}", table.page + 1, pages);
    $("prev").disabled = table.page === 0;
    $("next").disabled = table.page >= pages - 1;
    if (!stations.length) tb.appendChild(el("tr")).appendChild(el("td", {colspan: "5"}, t("No station matches.")));
    stations.slice(table.page * PAGE, (table.page + 1) * PAGE).forEach(function (s) {
      var tr = el("tr", {"data-station": s.id, "class": s.health.silent ? "silent" : ""});
      var td = el("td");
      var a = el("a", {href: "#/station/" + encodeURIComponent(s.id)}, label(s));
      td.appendChild(a);
      tr.appendChild(td);
      tr.appendChild(el("td", null, s.health.silent ? t("silent") : fmt(pmOf(s)) + " \u00b5g/m\u00b3" + staleNote(s)));
      var q = aqiOf(scale(), pmOf(s));
      var cell = el("td");
      var dot = el("span", {"class": "dot", style: "background:" + colourOf(s)});
      cell.appendChild(dot);
      cell.appendChild(document.createTextNode(s.health.silent ? " " + t("no recent data") : (q ? " " + q.aqi + " " + t(q.label) : " -")));
      tr.appendChild(cell);
      tr.appendChild(el("td", null, ago(s.health.silent_for_s)));
      tr.appendChild(el("td", null, s.lat === null || s.lat === undefined ? t("not set") : fmt(s.lat, 4) + ", " + fmt(s.lon, 4)));
      tb.appendChild(tr);
    });
  }

  function drawLegend() {
    var s = AQI[scale()];
    var lg = $("legend");
    lg.textContent = "";
    lg.appendChild(el("b", null, t("{0} from the latest PM2.5 (corrected when the station has a correction): ", t(s.name))));
    var seen = {};
    s.bands.forEach(function (b) {
      if (seen[b[4] + b[5]]) return;
      seen[b[4] + b[5]] = 1;
      var item = el("span", {"class": "item"});
      item.appendChild(el("span", {"class": "dot", style: "background:" + b[5]}));
      item.appendChild(document.createTextNode(" " + (s.levels ? t("level {0}", b[2]) + " " : "") + t(b[4]) + " (" + b[0] + "\u2013" + b[1] + ")"));
      lg.appendChild(item);
    });
    var item = el("span", {"class": "item"});
    item.appendChild(el("span", {"class": "dot", style: "background:" + SILENT_COLOUR}));
    item.appendChild(document.createTextNode(" " + t("silent")));
    lg.appendChild(item);
    lg.appendChild(el("div", {"class": "small"}, t("Breakpoints: {0}. Official indices use 24-hour averages; colours here are indicative.", LANG === "zh-TW" && s.source_zh ? s.source_zh : s.source)));
    if (s.note) lg.appendChild(el("div", {"class": "small note"}, LANG === "zh-TW" && s.note_zh ? s.note_zh : s.note));
  }

  /* ---------- station page ---------- */
  function showStation(id) {
    var s = null;
    state.latest.stations.forEach(function (x) { if (x.id === id) s = x; });
    if (!s) { $("st-name").textContent = t("No station {0}", id); return; }
    state.station = s;
    $("st-name").textContent = label(s);
    var st = $("st-status");
    var q = aqiOf(scale(), pmOf(s));
    st.className = "status" + (s.health.silent ? " silent" : "");
    st.style.borderColor = colourOf(s);
    st.textContent = s.health.silent ? t("Silent: nothing received for {0}", ago(s.health.silent_for_s).replace(" ago", "").replace("前", "")) :
      "PM2.5 " + fmt(pmOf(s)) + " \u00b5g/m\u00b3" + (q ? " \u2014 " + t(AQI[scale()].name) + " " + q.aqi + ", " + t(q.label) : "") +
      staleNote(s) + (s.pm25_corrected !== null && s.pm25_corrected !== undefined ? t(" \u2014 corrected with {0}", s.model || t("the station's correction")) :
                      t(" \u2014 raw sensor value, not corrected"));
    var facts = $("st-facts");
    facts.textContent = "";
    function fact(k, v) { facts.appendChild(el("dt", null, k)); facts.appendChild(el("dd", null, v)); }
    fact(t("Last seen"), ago(s.health.silent_for_s) + (s.last_seen ? " (" + localTime(s.last_seen) + ")" : ""));
    fact(t("Latest reading"), s.time ? localTime(s.time) : t("none yet"));
    fact(t("Backlog still to arrive"), s.health.backlog === null ? t("unknown") :
      t("{0} reading(s), {1}", s.health.backlog, t(s.health.backlog_source)));
    fact(t("Firmware"), s.fw || t("unknown"));
    fact(t("Correction"), s.model || t("none (raw sensor values)"));
    fact(t("Reading interval"), t("{0} min", Math.round(s.health.interval_s / 60)));
    fact(t("Position"), s.lat === null || s.lat === undefined ? t("not set") : fmt(s.lat, 5) + ", " + fmt(s.lon, 5));
    fact(t("Latest quality flags"), s.health.flags.length ? s.health.flags.map(function (f) { return flagLine(f); }).join("; ") : t("none"));
    showNetworkCheck(s.id, fact);
    loadCharts();
  }

  function loadCharts() {
    var s = state.station;
    var r = RANGES[state.range];
    var base = "/api/v1/stations/" + encodeURIComponent(s.id) + "/history?every=" + r.every + "&span=" + r.span;
    var bom = LANG === "zh-TW" ? "&bom=1" : "";      // Excel in Taiwan opens UTF-8 CSV right only with a BOM
    document.querySelectorAll(".range").forEach(function (b) { b.classList.toggle("on", b.getAttribute("data-range") === state.range); });
    getJSON(base).then(function (doc) {
      var rows = doc.readings;
      var charts = $("charts");
      charts.textContent = "";
      var corr = s.model ? t("corrected ({0})", s.model) : t("corrected (no correction on this station)");
      var specs = [
        {id: "pm25", title: "PM2.5 (\u00b5g/m\u00b3)", cols: [["pm25_atm", t("raw, atmospheric"), "#1f77b4"], ["pm25_cf1", t("raw, CF=1"), "#aec7e8"], ["pm25_corrected", corr, "#d62728"]]},
        {id: "pm10", title: "PM10 (\u00b5g/m\u00b3)", cols: [["pm10_atm", t("raw, atmospheric"), "#2ca02c"]]},
        {id: "rh", title: t("Relative humidity (%)"), cols: [["rh", "RH", "#17becf"]]},
        {id: "temp", title: t("Temperature (\u00b0C)"), cols: [["temp_c", t("temperature"), "#ff7f0e"]]}
      ];
      specs.forEach(function (sp) {
        var box = el("div", {"class": "chart", id: "chart-" + sp.id});
        box.appendChild(el("h3", null, sp.title + " \u2014 " + t(r.label)));
        box.appendChild(chart(rows, sp.cols, doc.every));
        var cols = sp.cols.map(function (c) { return c[0]; }).join(",");
        var a = el("a", {href: base + "&columns=" + cols + "&format=csv" + bom, download: s.id + "-" + sp.id + "-" + state.range + ".csv",
                         "class": "csv"}, t("Download this chart as CSV"));
        box.appendChild(a);
        charts.appendChild(box);
      });
      var counts = {};
      var flagged = 0;
      rows.forEach(function (row) {
        if (row.flags) row.flags.split(";").forEach(function (f) { if (f) counts[f] = (counts[f] || 0) + 1; });
        if (row.flagged) flagged += row.flagged;
      });
      var fl = $("st-flags");
      fl.textContent = "";
      var names = Object.keys(counts);
      if (doc.every !== "raw") {
        fl.appendChild(el("p", null, t("{0} of {1} readings in this period carry a quality flag (see the 24-hour view for the names).",
          flagged, rows.reduce(function (a, x) { return a + x.readings; }, 0))));
      } else if (!names.length) {
        fl.appendChild(el("p", null, t("No reading in this period carries a quality flag.")));
      } else {
        var ul = el("ul");
        names.sort().forEach(function (n) { ul.appendChild(el("li", null, flagLine(n, t("{0}: {1} reading(s)", "", counts[n])))); });
        fl.appendChild(ul);
        fl.appendChild(el("p", {"class": "small"}, t("Flagged readings are circled in red on the charts; their values are kept, not hidden.")));
      }
    }).catch(function (e) { $("charts").textContent = t("Could not load the charts: {0}", e.message); });
  }

  /* An SVG line chart; one polyline per contiguous run, flagged raw readings marked. */
  function chart(rows, cols, every) {
    var NS = "http://www.w3.org/2000/svg";
    var W = 640, H = 240, L0 = 44, R0 = 8, T0 = 22, B0 = 28;
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.setAttribute("class", "svgchart");
    function add(tag, attrs, text) {
      var e = document.createElementNS(NS, tag);
      for (var k in attrs) e.setAttribute(k, attrs[k]);
      if (text !== undefined) e.textContent = text;
      svg.appendChild(e);
      return e;
    }
    var ts = rows.map(function (r) { return Date.parse(r.time); });
    var lo = Infinity, hi = -Infinity;
    rows.forEach(function (r) { cols.forEach(function (c) { var v = r[c[0]]; if (v !== null && v !== undefined) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }); });
    if (!rows.length || lo === Infinity) {
      add("text", {x: W / 2, y: H / 2, "text-anchor": "middle", "class": "empty"}, t("no readings in this period"));
      svg.setAttribute("data-points", "0");
      return svg;
    }
    if (lo > 0 && lo < (hi - lo)) lo = 0;
    if (hi === lo) { hi += 1; lo -= 1; }
    var t0 = ts[0], t1 = ts[ts.length - 1];
    if (t1 === t0) t1 = t0 + 1;
    function x(t) { return L0 + (t - t0) / (t1 - t0) * (W - L0 - R0); }
    function y(v) { return T0 + (hi - v) / (hi - lo) * (H - T0 - B0); }
    for (var i = 0; i <= 4; i++) {
      var v = lo + (hi - lo) * i / 4;
      add("line", {x1: L0, x2: W - R0, y1: y(v), y2: y(v), "class": "grid"});
      add("text", {x: L0 - 4, y: y(v) + 4, "text-anchor": "end", "class": "tick"}, v.toFixed(hi - lo < 10 ? 1 : 0));
    }
    [t0, (t0 + t1) / 2, t1].forEach(function (t, k) {
      var d = new Date(t);
      var txt = every === "raw" ? d.toISOString().slice(5, 16).replace("T", " ") : d.toISOString().slice(5, 10);
      add("text", {x: x(t), y: H - 8, "text-anchor": ["start", "middle", "end"][k], "class": "tick"}, txt + (k === 2 ? " UTC" : ""));
    });
    var gap = every === "raw" ? 3 * 3600e3 : (every === "hourly" ? 3 * 3600e3 : 3 * 86400e3);
    var total = 0;
    cols.forEach(function (c) {
      var seg = [], n = 0, prev = null;
      function flush() {
        if (seg.length) add("polyline", {points: seg.join(" "), fill: "none", stroke: c[2], "stroke-width": 1.5, "class": "series series-" + c[0]});
        seg = [];
      }
      rows.forEach(function (r, k) {
        var v = r[c[0]];
        if (v === null || v === undefined) return;
        if (prev !== null && ts[k] - prev > gap) flush();
        seg.push(x(ts[k]).toFixed(1) + "," + y(v).toFixed(1));
        prev = ts[k];
        n++;
      });
      flush();
      if (c === cols[0]) total = n;
    });
    if (every === "raw") {
      rows.forEach(function (r, k) {
        var v = r[cols[0][0]];
        if (r.flags && v !== null && v !== undefined) add("circle", {cx: x(ts[k]), cy: y(v), r: 2.5, "class": "flagged"}).appendChild(document.createElementNS(NS, "title")).textContent = r.flags;
      });
    }
    svg.setAttribute("data-points", String(total));
    var lx = L0 + 6;
    cols.forEach(function (c) {
      add("rect", {x: lx, y: 6, width: 10, height: 3, fill: c[2]});
      add("text", {x: lx + 13, y: 12, "class": "key"}, c[1]);
      lx += 20 + c[1].replace(/[^\x00-\xff]/g, "xx").length * 6;     // a CJK character is about twice as wide
    });
    return svg;
  }

  /* ---------- network data quality (/api/v1/qc: the station against its neighbours) ---------- */
  var QC_TITLES = {stuck: "Stuck sensor", indoor: "Indoors or sheltered", local_source: "Constant source nearby",
                   drift: "Drifting against its neighbours"};
  function showNetworkCheck(id, fact) {
    getJSON("/api/v1/qc/stations/" + encodeURIComponent(id)).then(function (q) {
      if (state.station && state.station.id !== id) return;
      fact(t("Network check"), q.faults.length ? q.faults.map(function (f) { return t(QC_TITLES[f.kind]) + t(" since {0}", f.since) + " (" + f.detail + "): " + f.sentence; }).join(" ") :
        (q.neighbours ? t("no fault found against {0} neighbouring station(s)", q.neighbours) : t("no neighbouring station to compare with")));
      fact(t("Trust score"), q.trust.toFixed(2) + t(" (1 = never an outlier among its neighbours)"));
    }).catch(function () { fact(t("Network check"), t("not judged yet (needs a full hour of readings)")); });
  }

  function showNetworkQuality(h) {
    getJSON("/api/v1/qc").then(function (doc) {
      Object.keys(QC_TITLES).forEach(function (kind) {
        var list = doc.stations.filter(function (s) { return s.faults.some(function (f) { return f.kind === kind; }); });
        var box = el("div", {"class": "health-group", id: "health-qc-" + kind});
        box.appendChild(el("h2", null, t("{0} (network check): {1} of {2}", t(QC_TITLES[kind]), list.length, doc.stations.length)));
        var ul = el("ul");
        list.forEach(function (s) {
          var f = s.faults.filter(function (x) { return x.kind === kind; })[0];
          var li = el("li", {"data-station": s.id});
          li.appendChild(el("a", {href: "#/station/" + encodeURIComponent(s.id)}, s.id));
          li.appendChild(document.createTextNode(" \u2014" + t(" since {0}", f.since) + ", " + f.detail + ". " + f.sentence));
          ul.appendChild(li);
        });
        box.appendChild(ul);
        h.appendChild(box);
      });
      var ev = el("div", {"class": "health-group", id: "health-qc-events"});
      ev.appendChild(el("h2", null, t("Events: stations that rose together (not faults): {0}", doc.events.length)));
      var ul = el("ul");
      doc.events.forEach(function (e) {
        ul.appendChild(el("li", null, t("{0} to {1} near {2}, {3}: ", e.start, e.end, fmt(e.lat, 3), fmt(e.lon, 3)) + e.sentence));
      });
      ev.appendChild(ul);
      h.appendChild(ev);
    }).catch(function () { /* network QC switched off on this collector */ });
  }

  /* ---------- network health ---------- */
  function showHealth() {
    var n = parseInt($("silent-after").value, 10) || state.config.silent_after || 3;
    getJSON("/api/v1/latest?silent_after=" + n).then(function (doc) {
      var h = $("health");
      h.textContent = "";
      var net = el("div", {id: "health-network"});       // the network check first: what needs a visit
      h.appendChild(net);
      showNetworkQuality(net);
      var groups = [
        ["silent", t("Silent (nothing for more than {0} intervals)", n), function (s) { return s.health.silent; },
         function (s) { return t("last seen {0}", ago(s.health.silent_for_s)); }],
        ["ab", t("A/B sensors disagree"), function (s) { return s.health.ab_disagree; }, function (s) { return t("latest reading flagged ab_disagree: one sensor may be dirty or broken"); }],
        ["uncorrected", t("Uncorrected (no calibration on the station)"), function (s) { return s.health.uncorrected; },
         function (s) { return t("PM2.5 raw {0} \u00b5g/m\u00b3", fmt(s.pm25_atm)); }]
      ];
      groups.forEach(function (g) {
        var list = doc.stations.filter(g[2]);
        var box = el("div", {"class": "health-group", id: "health-" + g[0]});
        box.appendChild(el("h2", null, t("{0}: {1} of {2}", g[1], list.length, doc.stations.length)));
        var ul = el("ul");
        list.forEach(function (s) {
          var li = el("li", {"data-station": s.id});
          li.appendChild(el("a", {href: "#/station/" + encodeURIComponent(s.id)}, label(s)));
          li.appendChild(document.createTextNode(" \u2014 " + g[3](s)));
          ul.appendChild(li);
        });
        box.appendChild(ul);
        h.appendChild(box);
      });
    });
  }

  /* ---------- routing ---------- */
  function route() {
    var h = location.hash || "#/";
    var m = h.match(/^#\/station\/(.+)$/);
    $("view-map").hidden = !!m || h === "#/health";
    $("view-station").hidden = !m;
    $("view-health").hidden = h !== "#/health";
    if (m) showStation(decodeURIComponent(m[1]));
    else if (h === "#/health") showHealth();
    else drawMap();
  }

  function refresh() {
    return getJSON("/api/v1/latest").then(function (doc) { state.latest = doc; route(); document.body.setAttribute("data-ready", "1"); });
  }

  function localTime(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return iso;
    try { return d.toLocaleString(LANG === "zh-TW" ? "zh-TW" : "en-GB", {hour12: false}) + " (" + iso + ")"; } catch (e) { return iso; }
  }

  function translateStatic() {
    document.documentElement.lang = LANG;
    document.querySelectorAll("[data-i18n]").forEach(function (n) {
      if (!n.hasAttribute("data-en")) n.setAttribute("data-en", n.textContent.trim());
      n.textContent = t(n.getAttribute("data-en"));
    });
    $("search").setAttribute("placeholder", t("Search a station (name or id)"));
    $("search").setAttribute("aria-label", t("Search a station (name or id)"));
    $("lang").value = LANG;
    var csv = "/api/v1/latest?format=csv" + (LANG === "zh-TW" ? "&bom=1" : "");
    $("latest-csv").setAttribute("href", csv);
  }

  function start() {
    translateStatic();
    $("lang").addEventListener("change", function () {
      LANG = $("lang").value;
      try { localStorage.setItem("airkit-lang", LANG); } catch (e) { /* private mode */ }
      translateStatic();
      if (state.config) { document.title = t(state.config.title); $("title").textContent = t(state.config.title); }
      if (state.latest) route();
    });
    $("search").addEventListener("input", function () { table.q = $("search").value; table.page = 0; drawTable(state.latest.stations); });
    $("prev").addEventListener("click", function () { table.page--; drawTable(state.latest.stations); });
    $("next").addEventListener("click", function () { table.page++; drawTable(state.latest.stations); });
    document.querySelectorAll("th[data-sort] button").forEach(function (b) {
      b.addEventListener("click", function () {
        var k = b.parentNode.getAttribute("data-sort");
        table.dir = table.sort === k ? -table.dir : (k === "pm" ? -1 : 1);
        table.sort = k;
        table.page = 0;
        drawTable(state.latest.stations);
      });
    });
    try { $("aqi").value = localStorage.getItem("airkit-aqi") || "us"; } catch (e) { /* private mode */ }
    $("aqi").addEventListener("change", function () {
      try { localStorage.setItem("airkit-aqi", scale()); } catch (e) { /* private mode */ }
      route();
    });
    document.querySelectorAll(".range").forEach(function (b) {
      b.addEventListener("click", function () { state.range = b.getAttribute("data-range"); loadCharts(); });
    });
    $("silent-after").addEventListener("change", showHealth);
    window.addEventListener("hashchange", route);
    getJSON("/api/v1/config").then(function (cfg) {
      state.config = cfg;
      $("silent-after").value = cfg.silent_after;
      document.title = t(cfg.title);
      $("title").textContent = t(cfg.title);
      var f = $("footer");
      f.appendChild(document.createTextNode(t("Data: {0}, licence ", cfg.attribution)));
      var href = safeHref(cfg.licence_url);
      f.appendChild(href ? el("a", {href: href, rel: "license noopener"}, cfg.licence) : el("span", {}, cfg.licence));
      f.appendChild(document.createTextNode(t(". Open data API: ")));
      f.appendChild(el("a", {href: "/api/docs"}, "/api/docs"));
      return refresh();
    }).catch(function (e) {
      if (window.console) console.error(e);
      document.body.insertBefore(el("p", {"class": "note"}, t("Could not reach the collector: {0}", (e && e.message) || String(e))), document.body.firstChild);
    });
    setInterval(function () { if (!document.hidden) refresh(); }, 60000);
  }
  start();
})();
