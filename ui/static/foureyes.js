// callvault: 4-eyes access. A supervisor's page holds an event stream
// open and answers its pings, which keeps the access they granted alive;
// it lists waiting requests and active access live. A supervised user's
// pages listen to their own stream: the waiting page asks for access and
// reloads once it is granted; the other pages end playback and say so
// when the access ends.
"use strict";

(function () {
  var body = document.body;

  function post(url, data) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", redirect: "manual",
      body: new URLSearchParams(data || {})
    }).then(function (r) {
      if (r.type === "opaqueredirect" || r.ok) return r;
      throw new Error(String(r.status));
    });
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  // ---- the supervisor's page ----
  function supervisor(root) {
    var conn = document.getElementById("sv-conn");
    var connText = document.getElementById("sv-conn-text");
    var announce = document.getElementById("sv-announce");
    var errBox = document.getElementById("sv-error");
    var title = document.title;
    var stream = "";
    var known = null; // logins of waiting requests already shown

    function setConn(state, text) {
      conn.className = "sv-conn " + state;
      connText.textContent = text;
    }
    function showError(text) {
      errBox.textContent = text;
      errBox.hidden = !text;
    }
    function beat() {
      if (!stream) return;
      post(root.dataset.heartbeat, { stream: stream }).catch(function (e) {
        if (e.message === "404") { stream = ""; reconnect(); }
      });
    }

    function button(action, label, cls) {
      var f = el("form", "inline");
      f.method = "post";
      f.action = action;
      var b = el("button", cls, label);
      b.type = "submit";
      f.appendChild(b);
      return f;
    }
    function item(w, verb, forms) {
      var li = el("li");
      var who = el("span", "sv-who");
      who.appendChild(el("strong", null, w.name));
      who.appendChild(document.createTextNode(" "));
      who.appendChild(el("span", "muted", "(" + w.login + ")"));
      li.appendChild(who);
      var when = el("span", "muted small", verb + " ");
      var t = el("time", null, w.since);
      t.dateTime = w.sinceISO;
      when.appendChild(t);
      li.appendChild(when);
      var act = el("span", "sv-act");
      forms.forEach(function (f) { act.appendChild(f); });
      li.appendChild(act);
      return li;
    }
    function fill(list, empty, rows, make) {
      var focused = list.contains(document.activeElement);
      list.replaceChildren.apply(list, rows.map(make));
      empty.hidden = rows.length > 0;
      if (focused) {
        var b = list.querySelector("button") || root.querySelector("#sv-pending button, #sv-grants button");
        if (b) b.focus();
      }
    }
    function render(v) {
      fill(document.getElementById("sv-pending"), document.getElementById("sv-pending-empty"), v.pending, function (w) {
        return item(w, T("js.fe.asked"), [button(w.grantURL, T("js.fe.grant"), "primary small"), button(w.refuseURL, T("js.fe.refuse"), "small")]);
      });
      fill(document.getElementById("sv-grants"), document.getElementById("sv-grants-empty"), v.grants, function (w) {
        return item(w, T("js.fe.since"), [button(w.endURL, T("js.fe.endAccess"), "danger small")]);
      });
      var now = {};
      v.pending.forEach(function (w) {
        now[w.login] = true;
        if (known && !known[w.login]) announce.textContent = T("js.fe.asks", w.name);
      });
      known = now;
      document.title = (v.pending.length ? "(" + v.pending.length + ") " : "") + title;
    }

    root.addEventListener("submit", function (e) {
      var f = e.target;
      if (!(f instanceof HTMLFormElement)) return;
      e.preventDefault();
      var b = f.querySelector("button");
      if (b) b.disabled = true;
      post(f.action).then(function () { showError(""); }).catch(function (err) {
        if (b) b.disabled = false;
        showError(err.message === "409" ? T("js.fe.notConnected")
          : err.message === "404" ? T("js.fe.gone") : T("js.fe.failed", err.message));
      });
    });

    var es = null, delay = 1000;
    function connect() {
      es = new EventSource(root.dataset.events);
      es.addEventListener("hello", function (e) {
        stream = JSON.parse(e.data).stream;
        delay = 1000;
        setConn("on", T("js.fe.connected"));
        beat();
      });
      es.addEventListener("ping", beat);
      es.addEventListener("state", function (e) { render(JSON.parse(e.data)); });
      es.addEventListener("closed", function (e) {
        stream = "";
        setConn("off", T("js.fe.closed", JSON.parse(e.data).reason));
      });
      es.addEventListener("error", function () {
        stream = "";
        setConn("off", T("js.fe.lost"));
        if (es.readyState === EventSource.CLOSED) { // refused (logged out?): try again, less and less often
          setTimeout(reconnect, delay);
          delay = Math.min(delay * 2, 30000);
        }
      });
    }
    function reconnect() {
      if (es) es.close();
      connect();
    }
    connect();
  }

  // ---- a supervised user's pages ----
  function ward() {
    var waiting = document.getElementById("fe-waiting");
    var rendered = body.dataset.foureyesState;
    var asked = false, ended = false;

    function ask() {
      asked = true;
      return post(body.dataset.foureyesRequest, { next: location.pathname + location.search });
    }
    // message, heading and endedText say what foureyes_http.go's
    // waitingMessage, waitingHeading and endedMessage say.
    function message(s) {
      switch (s.state) {
        case "pending": return T("js.fe.pending", s.supervisorName);
        case "refused": return T("js.fe.refused", s.supervisorName);
        case "ended": return endedText(s.reason);
        case "granted": return T("js.fe.granted", s.supervisorName);
      }
      return T("js.fe.asking", s.supervisorName);
    }
    function heading(s) {
      switch (s.state) {
        case "pending": return T("js.fe.h.pending");
        case "refused": return T("js.fe.h.refused");
        case "ended": return T("js.fe.h.ended");
      }
      return T("js.fe.h.none");
    }
    function endedText(r) {
      switch (r) {
        case "closed": return T("js.fe.end.closed");
        case "logout": return T("js.fe.end.logout");
        case "timeout": return T("js.fe.end.timeout");
        case "audit": return T("js.fe.end.audit");
        case "reassigned": return T("js.fe.end.reassigned");
        case "shutdown": return T("js.fe.end.shutdown");
      }
      return T("js.fe.end.other");
    }
    function stopAudio() {
      Array.prototype.forEach.call(document.querySelectorAll("audio, video"), function (a) {
        a.pause();
        a.removeAttribute("src");
        a.load();
      });
      Array.prototype.forEach.call(document.querySelectorAll("#play, #back, #fwd, #channels"), function (b) { b.disabled = true; });
    }
    function end(s) {
      ended = true;
      stopAudio();
      var main = document.getElementById("main");
      var box = el("div", "fe-banner error");
      box.id = "fe-ended";
      box.setAttribute("role", "alert");
      box.tabIndex = -1;
      box.appendChild(el("p", null, s.state === "refused" ? message(s) : endedText(s.reason)));
      var again = el("a", "button", T("js.fe.askAgain"));
      again.href = "/";
      box.appendChild(again);
      main.insertBefore(box, main.firstChild);
      body.classList.add("fe-ended");
      box.focus();
    }

    var es = new EventSource(body.dataset.foureyesEvents);
    es.addEventListener("state", function (e) {
      var s = JSON.parse(e.data);
      if (waiting) {
        if (s.state === "granted") { location.reload(); return; }
        document.getElementById("fe-status").textContent = message(s);
        document.getElementById("h-waiting").textContent = heading(s);
        var dot = document.title.indexOf(" · ");
        if (dot >= 0) document.title = heading(s) + document.title.slice(dot);
        waiting.dataset.state = s.state;
        if ((s.state === "none" || s.state === "ended") && !asked) ask().catch(function () {});
        return;
      }
      if (rendered === "granted" && s.state !== "granted" && !ended) end(s);
    });

    if (waiting) {
      var form = document.getElementById("fe-ask");
      var status = document.getElementById("fe-status");
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var b = form.querySelector("button");
        b.disabled = true;
        status.textContent = T("js.fe.sending");
        ask().then(function () {
          var t = new Date().toLocaleTimeString(document.documentElement.lang || [], { hour: "2-digit", minute: "2-digit" });
          status.textContent = T("js.fe.sent", t, waiting.dataset.supervisor);
          document.getElementById("h-waiting").textContent = T("js.fe.h.pending");
          b.textContent = T("js.fe.askAgain");
        }).catch(function () {
          status.textContent = T("js.fe.sendFailed");
        }).then(function () { b.disabled = false; });
      });
    }
  }

  var sup = document.getElementById("supervision");
  if (sup) supervisor(sup);
  if (body.dataset.foureyesEvents) ward();
})();
