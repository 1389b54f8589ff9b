/* Air quality index categories for PM2.5 (ug/m3), the two the dashboard offers.
 *
 * US EPA AQI: breakpoints of the 2024 revision of the PM2.5 NAAQS (Final rule,
 * 89 FR 16202, 7 March 2024; Technical Assistance Document for the Reporting of
 * Daily Air Quality - the AQI, EPA-454/B-24-002, May 2024), 24-hour average.
 * Taiwan MOENV AQI: the Ministry of Environment's AQI table (air.moenv.gov.tw,
 * "Background of Air Quality", in use since December 2016), PM2.5 24-hour average.
 *
 * MOENV changed its AQI thresholds from 1 January 2025 (announced in November 2024, MOENV
 * air quality monitoring network news item 6073, air.moenv.gov.tw). The 2025 PM2.5 breakpoints
 * could not be read from MOENV's own publication for this release, so the 2016 table stays in
 * use and the page says so (``note``).
 * Taiwan PM2.5 index (細懸浮微粒指標, 10 levels, the one AirBox/LASS users know): the former
 * EPA's (now MOENV's) PM2.5 index table of 2014, concentrations in ug/m3 and its colours.
 *
 * Both indices are defined on 24-hour averages; the map colours each station by
 * its latest reading, so the colour is indicative (the page says so).
 */
var AQI = {
  us: {
    name: "US EPA AQI",
    source: "US EPA, PM2.5 breakpoints of the 2024 NAAQS revision (EPA-454/B-24-002)",
    bands: [
      [0.0, 9.0, 0, 50, "Good", "#00e400"],
      [9.1, 35.4, 51, 100, "Moderate", "#ffff00"],
      [35.5, 55.4, 101, 150, "Unhealthy for sensitive groups", "#ff7e00"],
      [55.5, 125.4, 151, 200, "Unhealthy", "#ff0000"],
      [125.5, 225.4, 201, 300, "Very unhealthy", "#8f3f97"],
      [225.5, 325.4, 301, 500, "Hazardous", "#7e0023"]
    ]
  },
  tw: {
    name: "Taiwan MOENV AQI",
    source: "Taiwan Ministry of Environment (MOENV) AQI table, PM2.5 breakpoints in use since Dec 2016",
    bands: [
      [0.0, 15.4, 0, 50, "Good", "#00e800"],
      [15.5, 35.4, 51, 100, "Moderate", "#ffff00"],
      [35.5, 54.4, 101, 150, "Unhealthy for sensitive groups", "#ff7e00"],
      [54.5, 150.4, 151, 200, "Unhealthy", "#ff0000"],
      [150.5, 250.4, 201, 300, "Very unhealthy", "#8f3f97"],
      [250.5, 350.4, 301, 400, "Hazardous", "#7e0023"],
      [350.5, 500.4, 401, 500, "Hazardous", "#7e0023"]
    ],
    note: "MOENV changed its AQI thresholds on 1 January 2025; this page still uses the 2016 table (the 2025 " +
          "PM2.5 breakpoints could not be verified from MOENV's own publication for this release).",
    note_zh: "環境部自 2025 年 1 月 1 日起調整 AQI 門檻；本頁仍使用 2016 年的對照表（本版未能從環境部公告查證 2025 年的 PM2.5 級距）。"
  },
  tw10: {
    name: "Taiwan PM2.5 index (10 levels)",
    levels: true,
    source: "Taiwan EPA (now MOENV) PM2.5 index table, 2014: levels 1\u201310",
    source_zh: "行政院環保署（現環境部）細懸浮微粒指標對照表（2014）：第 1\u201310 級",
    bands: [
      [0, 11.9, 1, 1, "Low", "#9cff9c"],
      [12, 23.9, 2, 2, "Low", "#31ff00"],
      [24, 35.9, 3, 3, "Low", "#31cf00"],
      [36, 41.9, 4, 4, "Moderate", "#ffff00"],
      [42, 47.9, 5, 5, "Moderate", "#ffcf00"],
      [48, 53.9, 6, 6, "Moderate", "#ff9a00"],
      [54, 58.9, 7, 7, "High", "#ff6464"],
      [59, 64.9, 8, 8, "High", "#ff0000"],
      [65, 70.9, 9, 9, "High", "#990000"],
      [71, 1000, 10, 10, "Very high", "#ce30ff"]
    ]
  }
};

/* {aqi, label, colour} for a PM2.5 concentration on scale "us" or "tw"; null for no value. */
function aqiOf(scale, pm25) {
  if (pm25 === null || pm25 === undefined || isNaN(pm25)) return null;
  var s = AQI[scale] || AQI.us;
  var c = Math.floor(Math.max(0, pm25) * 10) / 10;   // truncate to 0.1 as both agencies do
  var bands = s.bands;
  for (var i = 0; i < bands.length; i++) {
    var b = bands[i];
    if (c <= b[1]) {
      var v = b[3] === b[2] ? b[2] : Math.round((b[3] - b[2]) / (b[1] - b[0]) * (c - b[0]) + b[2]);
      return {aqi: v, label: b[4], colour: b[5]};
    }
  }
  var last = bands[bands.length - 1];
  return {aqi: last[3], label: last[4] + " (beyond the index)", colour: last[5]};
}

if (typeof module !== "undefined") module.exports = {AQI: AQI, aqiOf: aqiOf};
