/* The dashboard's texts in Traditional Chinese (Taiwan); English is the key itself.
 * Language: ?lang=en|zh-TW, else the visitor's last choice, else the browser's languages
 * (any zh-Hant / zh-TW / zh-HK / plain zh chooses zh-TW). t("text {0}", x) fills {0}, {1}... */
var I18N = {
  "zh-TW": {
    "Air quality stations": "空氣品質測站",
    "airkit stations": "airkit 空氣品質測站",
    "Map": "地圖",
    "Network health": "網路健康狀態",
    "Open data": "開放資料",
    "Colour by": "顏色依據",
    "Language": "語言",
    "US EPA AQI": "美國 EPA AQI",
    "Taiwan MOENV AQI": "臺灣環境部 AQI",
    "Taiwan PM2.5 index (10 levels)": "臺灣細懸浮微粒指標（10 級）",
    "The map background could not load (offline?). Station positions and values are still shown below.":
      "地圖底圖無法載入（離線？）。測站位置與數值仍列在下方。",
    "No map background is configured: station positions and values only.": "未設定地圖底圖：只顯示測站位置與數值。",
    "All stations": "所有測站",
    "Station": "測站",
    "Latest PM2.5": "最新 PM2.5",
    "Air quality": "空氣品質",
    "Last seen": "最後回報",
    "Position": "位置",
    "Download all stations' latest readings (CSV)": "下載所有測站的最新數據（CSV）",
    "Daily archives (every station, one gzip CSV per day)": "每日封存檔（所有測站，每天一個 gzip CSV）",
    "\u2190 all stations": "\u2190 所有測站",
    "Show:": "顯示：",
    "24 hours": "24 小時",
    "7 days": "7 天",
    "30 days": "30 天",
    "Quality flags in this period": "此期間的品質標記",
    "A station is silent when nothing arrived for more than": "測站超過",
    "reading intervals.": "個讀值間隔沒有收到資料時，即視為「靜默」。",
    "silent": "靜默",
    "no recent data": "近期無資料",
    "not set": "未設定",
    "never": "從未",
    "{0} s ago": "{0} 秒前",
    "{0} min ago": "{0} 分鐘前",
    "{0} h ago": "{0} 小時前",
    "{0} days ago": "{0} 天前",
    " (reading from {0})": "（{0}的讀值）",
    "{0} from the latest PM2.5 (corrected when the station has a correction): ":
      "{0}，依最新 PM2.5（測站有校正時用校正值）：",
    "Breakpoints: {0}. Official indices use 24-hour averages; colours here are indicative.":
      "分級依據：{0}。官方指標以 24 小時平均計算；此處顏色僅供參考。",
    "No station {0}": "沒有測站 {0}",
    "Silent: nothing received for {0}": "靜默：已 {0} 未收到資料",
    " \u2014 corrected with {0}": " \u2014 以 {0} 校正",
    "the station's correction": "測站的校正",
    " \u2014 raw sensor value, not corrected": " \u2014 感測器原始值，未校正",
    "Latest reading": "最新讀值",
    "none yet": "尚無",
    "Backlog still to arrive": "尚待上傳的資料",
    "unknown": "未知",
    "{0} reading(s), {1}": "{0} 筆，{1}",
    "reported by the station": "測站回報",
    "estimated from the last reading time": "由最後讀值時間估計",
    "Firmware": "韌體",
    "Correction": "校正",
    "none (raw sensor values)": "無（感測器原始值）",
    "Reading interval": "讀值間隔",
    "{0} min": "{0} 分鐘",
    "Latest quality flags": "最新品質標記",
    "none": "無",
    "last 24 hours": "最近 24 小時",
    "last 7 days, hourly averages": "最近 7 天，小時平均",
    "last 30 days, hourly averages": "最近 30 天，小時平均",
    "corrected ({0})": "校正值（{0}）",
    "corrected (no correction on this station)": "校正值（此測站未校正）",
    "raw, atmospheric": "原始值，大氣",
    "raw, CF=1": "原始值，CF=1",
    "Relative humidity (%)": "相對濕度（%）",
    "Temperature (\u00b0C)": "溫度（\u00b0C）",
    "temperature": "溫度",
    "Download this chart as CSV": "下載此圖表的 CSV",
    "{0} of {1} readings in this period carry a quality flag (see the 24-hour view for the names).":
      "此期間 {1} 筆讀值中有 {0} 筆帶有品質標記（名稱請見 24 小時檢視）。",
    "No reading in this period carries a quality flag.": "此期間沒有讀值帶品質標記。",
    "{0}: {1} reading(s)": "{0}：{1} 筆",
    "Flagged readings are circled in red on the charts; their values are kept, not hidden.":
      "帶標記的讀值在圖上以紅圈標示；數值保留，不會隱藏。",
    "Could not load the charts: {0}": "無法載入圖表：{0}",
    "no readings in this period": "此期間沒有讀值",
    "Silent (nothing for more than {0} intervals)": "靜默（超過 {0} 個間隔沒有資料）",
    "last seen {0}": "最後回報 {0}",
    "A/B sensors disagree": "A/B 感測器不一致",
    "latest reading flagged ab_disagree: one sensor may be dirty or broken": "最新讀值標記 ab_disagree：其中一個感測器可能髒污或故障",
    "Uncorrected (no calibration on the station)": "未校正（測站沒有校正）",
    "PM2.5 raw {0} \u00b5g/m\u00b3": "PM2.5 原始值 {0} \u00b5g/m\u00b3",
    "{0}: {1} of {2}": "{0}：{2} 站中有 {1} 站",
    "Data: {0}, licence ": "資料：{0}，授權 ",
    ". Open data API: ": "。開放資料 API：",
    "Could not reach the collector: {0}": "無法連線到資料收集器：{0}",
    "Search a station (name or id)": "搜尋測站（名稱或代號）",
    "{0} stations": "{0} 個測站",
    "Previous": "上一頁",
    "Next": "下一頁",
    "Page {0} of {1}": "第 {0} / {1} 頁",
    "No station matches.": "沒有符合的測站。",
    "Times are {0} (UTC: {1}).": "時間為 {0}（UTC：{1}）。",
    "your local time": "您的當地時間",
    /* network data quality (the sentences themselves come from the server, in English) */
    "Stuck sensor": "感測器卡住",
    "Indoors or sheltered": "在室內或遮蔽處",
    "Constant source nearby": "附近有固定污染源",
    "Drifting against its neighbours": "與鄰近測站相比逐漸偏移",
    "Network check": "網路比對檢查",
    " since {0}": "，自 {0} 起",
    "no fault found against {0} neighbouring station(s)": "與 {0} 個鄰近測站比對未發現異常",
    "no neighbouring station to compare with": "沒有可比對的鄰近測站",
    "Trust score": "可信度分數",
    " (1 = never an outlier among its neighbours)": "（1 = 在鄰近測站中從未離群）",
    "not judged yet (needs a full hour of readings)": "尚未判斷（需要一整個小時的讀值）",
    "{0} (network check): {1} of {2}": "{0}（網路比對檢查）：{2} 站中有 {1} 站",
    "Events: stations that rose together (not faults): {0}": "事件：同時上升的測站（不是故障）：{0}",
    "{0} to {1} near {2}, {3}: ": "{0} 至 {1}，在 {2}, {3} 附近：",
    /* index categories */
    "Good": "良好",
    "Moderate": "普通",
    "Unhealthy for sensitive groups": "對敏感族群不健康",
    "Unhealthy": "對所有族群不健康",
    "Very unhealthy": "非常不健康",
    "Hazardous": "危害",
    "Low": "低",
    "High": "高",
    "Very high": "非常高",
    "level {0}": "第 {0} 級",
    /* quality flags */
    "the particle sensor did not answer": "粒子感測器沒有回應",
    "the particle sensor sent fewer frames than usual": "粒子感測器傳來的資料框比平常少",
    "the particle sensor's fan had less warm-up time than usual": "粒子感測器風扇的暖機時間比平常短",
    "the humidity/temperature sensor did not answer": "溫濕度感測器沒有回應",
    "the humidity/temperature sensor repeated the same value (probably stuck)": "溫濕度感測器重複同一數值（可能卡住）",
    "the humidity/temperature sensor gave an impossible value": "溫濕度感測器給出不可能的數值",
    "the second particle sensor (B) did not answer": "第二個粒子感測器（B）沒有回應",
    "the two particle sensors (A and B) disagree: one may be dirty or broken": "兩個粒子感測器（A 與 B）不一致：其中一個可能髒污或故障",
    "the particle sensor is of an unknown model": "粒子感測器型號不明",
    "the particle sensor repeated the same value (probably stuck)": "粒子感測器重複同一數值（可能卡住）",
    "the station's clock was not set: the reading time is uncertain": "測站時鐘未設定：讀值時間不確定",
    "conditions outside the range the correction was fitted on": "條件超出校正公式的適用範圍",
    "the station sent {0} = {1}, outside what the sensor can measure: not stored": "測站送出 {0} = {1}，超出感測器可量測範圍：未儲存"
  }
};

var LANG = (function () {
  function pick(tag) {
    tag = String(tag || "").toLowerCase();
    if (tag === "en" || tag.indexOf("en-") === 0) return "en";
    if (tag.indexOf("zh") === 0 && tag.indexOf("cn") < 0 && tag.indexOf("hans") < 0 && tag.indexOf("sg") < 0) return "zh-TW";
    if (tag.indexOf("zh") === 0) return "zh-TW";          // the only Chinese we have
    return null;
  }
  var m = /[?&]lang=([A-Za-z-]+)/.exec(location.search);
  if (m && pick(m[1])) return pick(m[1]);
  try { var saved = localStorage.getItem("airkit-lang"); if (saved && pick(saved)) return pick(saved); } catch (e) { /* private mode */ }
  var langs = navigator.languages || [navigator.language];
  for (var i = 0; i < langs.length; i++) { var p = pick(langs[i]); if (p) return p; }
  return "en";
})();

function t(text) {
  var d = I18N[LANG] || {};
  var s = Object.prototype.hasOwnProperty.call(d, text) ? d[text] : text;
  for (var i = 1; i < arguments.length; i++) s = s.split("{" + (i - 1) + "}").join(String(arguments[i]));
  return s;
}

if (typeof module !== "undefined") module.exports = {I18N: I18N, t: t};
