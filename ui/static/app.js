// callvault: confirmations for destructive forms, and the recording
// player (waveform from server-computed peaks, seek, stereo/mono, keys).
"use strict";

// T is the page's text for key (the layout's #ui-text block, in the
// page's language; the key itself when missing), its %s and %d filled
// with the further arguments in turn. foureyes.js uses it too.
var T = (function () {
  var texts = {};
  try { texts = JSON.parse(document.getElementById("ui-text").textContent) || {}; } catch (e) { /* no block: keys */ }
  return function (key) {
    var s = Object.prototype.hasOwnProperty.call(texts, key) ? texts[key] : key;
    var args = arguments, i = 1;
    return s.replace(/%[sd]/g, function (m) { return i < args.length ? String(args[i++]) : m; });
  };
})();

document.addEventListener("submit", function (e) {
  var f = e.target;
  if (f instanceof HTMLFormElement && f.dataset.confirm && !window.confirm(f.dataset.confirm)) {
    e.preventDefault();
  }
});

(function () {
  var audio = document.getElementById("audio");
  var canvas = document.getElementById("wave");
  if (!audio || !canvas) return;
  var play = document.getElementById("play");
  var back = document.getElementById("back");
  var fwd = document.getElementById("fwd");
  var pos = document.getElementById("pos");
  var chan = document.getElementById("channels");
  var peaks = { stereo: null, mono: null };
  var mode = "stereo";

  function fmt(t) {
    if (!isFinite(t) || t < 0) t = 0;
    t = Math.floor(t);
    var h = Math.floor(t / 3600), m = Math.floor(t / 60) % 60, s = t % 60;
    var ss = (s < 10 ? "0" : "") + s;
    return h > 0 ? h + ":" + (m < 10 ? "0" : "") + m + ":" + ss : m + ":" + ss;
  }

  function duration() {
    if (isFinite(audio.duration) && audio.duration > 0) return audio.duration;
    var p = peaks[mode] || peaks.stereo;
    return p && p.rate ? p.frames / p.rate : 0;
  }

  function load(which) {
    var url = which === "mono" ? canvas.dataset.monoPeaks : canvas.dataset.peaks;
    if (!url || peaks[which]) { draw(); return; }
    fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("peaks " + r.status);
      return r.json();
    }).then(function (p) { peaks[which] = p; draw(); }).catch(function () { draw(); });
  }

  function draw() {
    var dpr = window.devicePixelRatio || 1;
    var w = Math.max(1, Math.round(canvas.clientWidth * dpr));
    var h = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    var g = canvas.getContext("2d");
    var css = getComputedStyle(document.documentElement);
    function color(name) { return css.getPropertyValue(name).trim(); }
    g.clearRect(0, 0, w, h);
    var p = peaks[mode];
    var d = duration();
    var played = d > 0 ? audio.currentTime / d : 0;
    if (p && p.n > 0) {
      var lanes = p.channels;
      var laneH = h / lanes;
      var split = Math.floor(played * w);
      for (var c = 0; c < lanes; c++) {
        var mid = laneH * c + laneH / 2;
        var cols = [color("--played"), color(c === 0 ? "--wave" : "--wave2")];
        for (var part = 0; part < 2; part++) {
          g.fillStyle = cols[part];
          var from = part === 0 ? 0 : split, to = part === 0 ? split : w;
          for (var x = from; x < to; x++) {
            var i = Math.floor(x * p.n / w);
            var lo = p.min[c][i] / 32768, hi = p.max[c][i] / 32768;
            var y0 = mid - hi * laneH / 2 * 0.95, y1 = mid - lo * laneH / 2 * 0.95;
            g.fillRect(x, y0, 1, Math.max(1, y1 - y0));
          }
        }
      }
      if (lanes > 1) {
        g.fillStyle = color("--line");
        g.fillRect(0, Math.floor(h / 2), w, 1);
      }
    }
    g.fillStyle = color("--fg");
    g.fillRect(Math.floor(played * w), 0, Math.max(1, dpr), h);
    pos.textContent = fmt(audio.currentTime) + " / " + fmt(d);
    canvas.setAttribute("aria-valuenow", String(Math.round(played * 100)));
    canvas.setAttribute("aria-valuetext", fmt(audio.currentTime));
  }

  function seekTo(t) {
    var d = duration();
    if (d > 0) t = Math.min(Math.max(0, t), d);
    else t = Math.max(0, t);
    audio.currentTime = t;
    draw();
  }

  function toggle() {
    if (audio.paused) {
      var p = audio.play();
      if (p && p.catch) p.catch(function () {}); // the "error" event tells
    } else audio.pause();
  }

  function setMode(m) {
    if (m === mode) return;
    var t = audio.currentTime, wasPlaying = !audio.paused;
    mode = m;
    chan.value = m;
    audio.src = m === "mono" ? audio.dataset.mono : audio.dataset.stereo;
    audio.addEventListener("loadedmetadata", function once() {
      audio.removeEventListener("loadedmetadata", once);
      audio.currentTime = t;
      if (wasPlaying) audio.play();
    });
    audio.load();
    load(m);
  }

  play.addEventListener("click", toggle);
  back.addEventListener("click", function () { seekTo(audio.currentTime - 5); });
  fwd.addEventListener("click", function () { seekTo(audio.currentTime + 5); });
  chan.addEventListener("change", function () { setMode(chan.value); });
  // A response the appliance aborts (a stored chunk failed its integrity
  // check, or the connection broke) is a media error: say so, and stop
  // calling the recording sealed.
  var perr = document.getElementById("player-error");
  audio.addEventListener("error", function () {
    if (!audio.error) return;
    if (perr) {
      perr.textContent = T("js.playbackFailed");
      perr.hidden = false;
    }
    var seal = document.getElementById("seal-status");
    if (seal) {
      seal.className = "error";
      seal.textContent = T("js.sealNotConfirmed");
    }
    play.textContent = T("js.play");
  });
  audio.addEventListener("play", function () { play.textContent = T("js.pause"); });
  audio.addEventListener("pause", function () { play.textContent = T("js.play"); });
  audio.addEventListener("timeupdate", draw);
  audio.addEventListener("loadedmetadata", draw);
  audio.addEventListener("seeked", draw);
  window.addEventListener("resize", draw);
  // The waveform's colours come from the style sheet: redraw when the
  // system switches between light and dark.
  if (window.matchMedia) {
    var scheme = window.matchMedia("(prefers-color-scheme: dark)");
    if (scheme.addEventListener) scheme.addEventListener("change", draw);
  }

  // Secure pauses: bands over the waveform.
  var pauses = document.querySelectorAll(".pause-mark[data-left]");
  for (var j = 0; j < pauses.length; j++) {
    pauses[j].style.left = pauses[j].dataset.left;
    pauses[j].style.width = pauses[j].dataset.width;
  }

  // The marks where the parts of a call begin seek there; without script
  // they link to the part's own page.
  var marks = document.querySelectorAll(".part-mark[data-at]");
  for (var i = 0; i < marks.length; i++) {
    marks[i].style.left = marks[i].dataset.pct;
    marks[i].addEventListener("click", function (e) {
      e.preventDefault();
      seekTo(parseFloat(this.dataset.at));
    });
  }

  var dragging = false;
  function seekEvent(e) {
    var r = canvas.getBoundingClientRect();
    seekTo((e.clientX - r.left) / r.width * duration());
  }
  canvas.addEventListener("pointerdown", function (e) { dragging = true; canvas.setPointerCapture(e.pointerId); seekEvent(e); });
  canvas.addEventListener("pointermove", function (e) { if (dragging) seekEvent(e); });
  canvas.addEventListener("pointerup", function () { dragging = false; });

  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement || t === audio) return;
    if (t instanceof HTMLButtonElement && (e.key === " " || e.key === "Enter")) return;
    if (t instanceof HTMLAnchorElement && e.key === "Enter") return;
    switch (e.key) {
      case " ": case "k": toggle(); break;
      case "ArrowLeft": seekTo(audio.currentTime - 5); break;
      case "ArrowRight": seekTo(audio.currentTime + 5); break;
      case "Home": seekTo(0); break;
      case "End": seekTo(duration()); break;
      case "m": case "M": setMode(mode === "stereo" ? "mono" : "stereo"); break;
      default: return;
    }
    e.preventDefault();
  });

  load("stereo");
})();

// Selection on the recordings list: select all on the page, and a live
// count. Without script the checkboxes still submit the form. It runs
// again when search as you type replaces the results.
var listSelection = (function () {
  function boxes() { return document.querySelectorAll('#selection input[type=checkbox][name=r]'); }
  function update() {
    var all = document.getElementById("sel-all");
    var count = document.getElementById("sel-count");
    if (!all || !count) return;
    var n = 0, bs = boxes();
    for (var i = 0; i < bs.length; i++) if (bs[i].checked) n++;
    count.textContent = T("js.selected", n);
    all.checked = n > 0 && n === bs.length;
    all.indeterminate = n > 0 && n < bs.length;
  }
  function init() {
    var all = document.getElementById("sel-all");
    var count = document.getElementById("sel-count");
    if (!all || !count) return;
    all.hidden = false;
    count.hidden = false;
    all.addEventListener("change", function () {
      var bs = boxes();
      for (var i = 0; i < bs.length; i++) bs[i].checked = all.checked;
      update();
    });
    update();
  }
  document.addEventListener("change", function (e) {
    if (e.target && e.target.name === "r") update();
  });
  init();
  return init;
})();

// Search as you type on the recordings list: after a pause of 300 ms in
// the filter form, the results (count, table, pages) are fetched from the
// same URL the form would submit, swapped in, and the URL follows. The
// form still submits without script.
(function () {
  var form = document.querySelector("form.filters");
  var results = document.getElementById("list-results");
  if (!form || !results || !window.fetch || !window.URLSearchParams) return;
  var timer = null, seq = 0;
  function run() {
    var params = new URLSearchParams(new FormData(form));
    var drop = [];
    params.forEach(function (v, k) { if (v === "") drop.push(k); });
    drop.forEach(function (k) { params.delete(k); });
    var qs = params.toString();
    var url = (form.getAttribute("action") || "/") + (qs ? "?" + qs : "");
    var mine = ++seq;
    results.setAttribute("aria-busy", "true");
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } }).then(function (resp) {
      if (!resp.ok) throw new Error(resp.status);
      return resp.text();
    }).then(function (html) {
      if (mine !== seq) return; // a newer search is under way
      var doc = new DOMParser().parseFromString(html, "text/html");
      var fresh = doc.getElementById("list-results");
      if (!fresh) return;
      results.innerHTML = fresh.innerHTML;
      results.removeAttribute("aria-busy");
      history.replaceState(null, "", url);
      listSelection();
    }).catch(function () {
      if (mine === seq) results.removeAttribute("aria-busy");
    });
  }
  function later() {
    clearTimeout(timer);
    timer = setTimeout(run, 300);
  }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
})();

// The send form's end date follows the days: today and N more days,
// until 23:59 in the appliance's zone.
(function () {
  var days = document.getElementById("share-days");
  var until = document.getElementById("share-until");
  if (!days || !until) return;
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function update() {
    var p = (days.dataset.today || "").split("-");
    var n = parseInt(days.value, 10);
    if (p.length !== 3 || !isFinite(n) || n < 0 || n > 365) { until.textContent = ""; return; }
    var d = new Date(Date.UTC(+p[0], +p[1] - 1, +p[2] + n));
    // The day as the server writes it in the page's language (i18n.Date).
    var day = document.documentElement.lang === "de"
      ? d.getUTCDate() + "." + (d.getUTCMonth() + 1) + "." + d.getUTCFullYear()
      : d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
    until.textContent = T("js.until", day + " 23:59", days.dataset.zone);
  }
  days.addEventListener("input", update);
})();
