// The desktop's live parts. Everything shown comes in as data and goes out through textContent
// (never innerHTML), so a caller's words can never become markup. State-changing calls carry
// the session's CSRF token in X-CSRF-Token.
"use strict";
(function () {
  const T = JSON.parse(document.getElementById("i18n").textContent);
  const t = (key) => T[key] || key;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const page = document.body.dataset.page;
  const $ = (id) => document.getElementById(id);
  window.hotlineLog = []; // what arrived, in order, with the time (tests and the latency bench)
  const note = (kind, data) => window.hotlineLog.push({ kind, at: Date.now(), data });

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  // Times in the centre's time zone (the page's data-tz, Asia/Shanghai), 24-hour, whatever the
  // browser's own zone and locale.
  const TZ = document.body.dataset.tz || "Asia/Shanghai";
  const timeFormat = new Intl.DateTimeFormat("zh-CN", { timeZone: TZ, hour12: false,
    hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const clockTime = (epochS) => timeFormat.format(new Date(epochS * 1000));
  const pad = (n) => String(Math.floor(n)).padStart(2, "0");
  // A duration as m:ss (h:mm:ss past the hour).
  const clock = (s) => (s >= 3600 ? Math.floor(s / 3600) + ":" + pad((s % 3600) / 60) : Math.floor(s / 60))
    + ":" + pad(s % 60);
  // A caller who withheld the number has none (or "anonymous", "unknown"): no digit at all.
  const withheld = (number) => !/[0-9]/.test(number || "");
  const callerText = (number) => (withheld(number) ? t("unknown_number") : number);
  // Waiting callers on the wall: a number a visitor reads from across the room is masked.
  const masked = (number) => (withheld(number) ? t("unknown_number")
    : number.length >= 7 ? number.slice(0, 3) + "****" + number.slice(-4) : number.slice(0, 2) + "****");
  // The IVR path in words: each step's name from the catalogue (ivr_<step>), its value after it.
  function ivrText(path) {
    if (!path) return "—";
    return path.split(">").map((step) => {
      const [name, ...rest] = step.split(":");
      const value = rest.join(":");
      return (T["ivr_" + name] || name) + (value ? " " + value : "");
    }).join(" → ");
  }
  const skillText = (skill) => (skill === "*" ? t("all") : T["skill_" + skill] || skill);
  // An API error: its code in the catalogue (err_<code>) when the page knows it, else the text.
  // A refusal's parameters fill its {placeholders}: a state and an action in words.
  function fill(text, params) {
    return text.replace(/\{(\w+)\}/g, (whole, name) => {
      const value = params && params[name];
      if (value === undefined) return whole;
      if (name === "state") return t("tstate_" + value);
      if (name === "action") return T["act_" + value] || value;
      if (name === "until") return when(value);
      return String(value);
    });
  }
  // An ISO time in the centre's zone, as the server's pages show it (YYYY-MM-DD HH:MM).
  function when(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    const parts = new Intl.DateTimeFormat("sv-SE", { timeZone: TZ, hour12: false, year: "numeric",
      month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }).format(d);
    return parts.replace("T", " ");
  }
  function apiError(data, resp) {
    const known = data && data.code && T["err_" + data.code] && fill(T["err_" + data.code], data.params);
    const err = new Error(known || (data && data.error) || resp.statusText);
    err.code = data && data.code;
    return err;
  }

  async function post(url, body) {
    const resp = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await resp.json(); } catch (e) { data = { error: resp.statusText }; }
    if (!resp.ok) throw apiError(data, resp);
    return data;
  }

  function showError(id, err) {
    const node = $(id);
    if (!node) return;
    node.hidden = !err;
    node.textContent = err ? t("error") + ": " + err.message : "";
  }

  function connect(onMessage) {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(proto + "//" + location.host + "/desk/ws");
    ws.onopen = () => { $("conn").textContent = t("connected"); $("conn").dataset.state = "up"; };
    ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
    ws.onclose = (ev) => {
      $("conn").textContent = t("disconnected");
      $("conn").dataset.state = "down";
      // 4401: the session ended (log-out, expiry, user disabled): log in again, no retries.
      if (ev.code === 4401) { location.assign("/desk/login"); return; }
      setTimeout(() => connect(onMessage), 1000);
    };
  }

  // -- agent ----------------------------------------------------------------------------------
  // What the page shows: the agent's state as the ACD has it, plus the call's own state (held,
  // the three-way stage) and whether a pop is open. Every button is enabled only when the ACD
  // (hotline/acd/core.py AGENT_TRANSITIONS) or the call control (hotline/callcontrol/threeway.py TRANSITIONS,
  // callcontrol.py HOLD_TRANSITIONS) would accept it: the table below mirrors theirs.
  const TALKING_STAGES = ["", "failed", "department_dropped"];  // the agent alone with the citizen
  const CONTROLS = {
    "seat-login": (v) => v.state === "logged_out",
    "ready": (v) => ["not_ready", "wrap_up"].includes(v.state)
      || (["ringing", "on_call"].includes(v.state) && !!v.afterCall),  // withdraws "after call"
    "reason": (v) => v.state !== "logged_out",
    "not-ready": (v) => ["ready", "not_ready", "wrap_up"].includes(v.state)
      || (["ringing", "on_call"].includes(v.state) && !v.afterCall),  // not ready after the call
    "seat-logout": (v) => ["ready", "not_ready", "wrap_up"].includes(v.state),
    "call-hold": (v) => v.onCall && v.held === "talking" && TALKING_STAGES.includes(v.stage),
    "call-resume": (v) => v.onCall && v.held === "held",
    "call-hangup": (v) => v.onCall && !["agent_left", "transferred"].includes(v.stage),
    "department": (v) => v.onCall && v.held === "talking" && TALKING_STAGES.includes(v.stage),
    "threeway-start": (v) => v.onCall && v.held === "talking" && TALKING_STAGES.includes(v.stage),
    "transfer-blind": (v) => v.onCall && v.held === "talking" && TALKING_STAGES.includes(v.stage),
    "transfer-consult": (v) => v.onCall && v.held === "talking" && TALKING_STAGES.includes(v.stage),
    "threeway-leave": (v) => v.onCall && v.stage === "conferenced",
    "threeway-drop": (v) => v.onCall && v.stage === "conferenced",
    "transfer-complete": (v) => v.onCall && v.stage === "consulting",
    "transfer-cancel": (v) => v.onCall && v.stage === "consulting",
    "emergency": (v) => v.onCall && TALKING_STAGES.includes(v.stage),
    "create-ticket": (v) => v.pop,
  };

  function agentPage() {
    const view = { state: "logged_out", afterCall: null, onCall: false, held: "talking", stage: "",
                   pop: false, since: 0, wrapupS: 0, offset: 0 };
    let dirty = false;  // the agent typed in the ticket form since the pop (kept until filed)
    let filed = "";     // the ticket filed from this pop

    function controls() {
      const enabled = {};
      for (const [id, allowed] of Object.entries(CONTROLS)) {
        const ok = !!allowed(view);
        enabled[id] = ok;
        const nodes = id === "emergency" ? document.querySelectorAll("button.emergency") : [$(id)];
        for (const node of nodes) if (node) node.disabled = !ok;
      }
      return enabled;
    }
    window.hotlineControls = controls;  // tests read the same table the page applies
    function apply() {
      const enabled = controls();
      note("controls", { state: view.state, held: view.held, stage: view.stage, pop: view.pop,
                         after_call: !!view.afterCall, enabled });
      tick();
    }

    // The call timer (ringing, talking) and the wrap-up countdown, from the ACD's own "since".
    function tick() {
      const timer = $("call-timer");
      const elapsed = Math.max(0, Date.now() / 1000 - view.offset - view.since);
      if (view.state === "ringing" || view.state === "on_call") {
        timer.dataset.kind = view.state;
        timer.textContent = t("timer_" + view.state) + " " + clock(elapsed);
      } else if (view.state === "wrap_up" && view.wrapupS > 0) {
        timer.dataset.kind = "wrap_up";
        timer.textContent = t("timer_wrap_up") + " " + clock(Math.max(0, view.wrapupS - elapsed));
      } else {
        timer.dataset.kind = "";
        timer.textContent = "";
      }
    }
    setInterval(tick, 1000);

    const seat = (action, body) => post("/desk/api/seat/" + action, body)
      .then(() => showError("seat-error", null), (err) => showError("seat-error", err));
    $("seat-login").onclick = () => seat("login");
    $("ready").onclick = () => seat("ready");
    $("not-ready").onclick = () => seat("not-ready", { reason: $("reason").value });
    $("seat-logout").onclick = () => seat("logout");

    function showState(msg) {
      const before = view.state;
      if (msg.seat) $("seat").textContent = msg.seat;  // where the agent is logged in now
      const node = $("agent-state");
      node.dataset.state = msg.state;
      node.textContent = t("state_" + msg.state);
      $("agent-reason").textContent = msg.state === "not_ready" && msg.reason ? "(" + t("reason_" + msg.reason) + ")"
        : msg.after_call ? "(" + t("after_call") + ": " + t("reason_" + msg.after_call) + ")" : "";
      Object.assign(view, { state: msg.state, afterCall: msg.after_call || null,
                            since: msg.since || 0, wrapupS: msg.wrapup_s || 0,
                            offset: msg.now ? Date.now() / 1000 - msg.now : 0 });
      view.onCall = msg.state === "on_call";
      if (!view.onCall) {  // the call is over: no hold state to show any more
        view.held = "talking";
        $("hold-state").dataset.state = "talking";
        $("hold-state").textContent = "";
      }
      const pop = $("pop-status");
      if (msg.state === "on_call" || msg.state === "wrap_up") pop.textContent = t("state_" + msg.state);
      // The offer ended without an answer (ring-no-answer, the caller hung up): say so.
      else if (msg.state !== "ringing" && pop.textContent === t("state_ringing")) {
        pop.textContent = t("pop_ended");
        pop.dataset.ended = "unanswered";
      }
      // The call and its wrap-up are over: the pop goes to the list of this shift's calls.
      const over = ["ready", "not_ready", "logged_out"].includes(msg.state);
      if (over && ["on_call", "wrap_up"].includes(before)) endPop("done");
      else if (over && before === "ringing") endPop("unanswered");
      apply();
    }

    function endPop(how) {
      view.held = "talking";
      view.stage = "";
      if (!view.pop) return;
      if (dirty && !filed) {  // unsaved words: the pop stays until filed or closed
        $("pop-close").hidden = false;
        $("pop-status").textContent = how === "done" ? t("pop_unsaved") : t("pop_ended");
        return;
      }
      archivePop(how);
    }

    function archivePop(how) {
      const item = el("li", clockTime(Date.now() / 1000) + " " + $("pop-caller").textContent
        + " · " + t(how === "done" ? "archive_done" : "pop_ended"));
      item.dataset.call = $("pop").dataset.callId || "";
      if (filed) {
        const link = el("a", filed);
        link.href = "/desk/tickets/" + encodeURIComponent(filed);
        item.append(" · ", link);
      }
      $("pop-archive").prepend(item);
      $("pop").hidden = true;
      $("pop").dataset.callId = "";
      $("pop-close").hidden = true;
      $("no-call").hidden = false;
      view.pop = false;
      dirty = false;
      filed = "";
      apply();
    }
    $("pop-close").onclick = () => archivePop("done");

    const PREFILLED = ["f-category", "f-subject_code", "f-description"];
    $("ticket-form").addEventListener("input", () => { dirty = true; });

    function showPopSpeech(msg) {
      if ($("pop").dataset.callId !== msg.call_id) return;
      $("pop-speech").textContent = msg.speech_text || "—";
      const values = { "f-category": msg.form.category, "f-subject_code": msg.form.subject_code,
                       "f-description": msg.form.description };
      for (const id of PREFILLED) {
        if ($(id).value === $(id).dataset.prefilled) {  // the agent has not changed it
          $(id).value = values[id];
          $(id).dataset.prefilled = values[id];
        }
      }
      // The classifier's subject: the catalogue's unit follows it.
      $("f-subject_code").dispatchEvent(new Event("change"));
    }

    function showPop(msg) {
      $("pop").hidden = false;
      $("pop").dataset.callId = msg.call_id;
      $("no-call").hidden = true;
      $("pop-close").hidden = true;
      $("pop-status").textContent = t("state_ringing");
      delete $("pop-status").dataset.ended;
      $("pop-caller").textContent = callerText(msg.caller);
      $("pop-caller").dataset.withheld = String(withheld(msg.caller));
      $("pop-ivr").textContent = ivrText(msg.ivr_path);
      $("pop-ivr").dataset.path = msg.ivr_path || "";
      $("pop-speech").textContent = msg.speech_text || "—";
      $("pop-repeat").textContent = msg.repeat ? t("repeat_yes") : t("repeat_no");
      $("pop-repeat").className = msg.repeat ? "flag" : "";
      const list = $("pop-earlier");
      list.replaceChildren();
      for (const ticket of msg.earlier) {
        const item = el("li");
        const link = el("a", ticket.number);
        link.href = "/desk/tickets/" + encodeURIComponent(ticket.number);
        item.append(link, el("span", " " + t("cat_" + ticket.category) + " · " + t("tstate_" + ticket.state) + " · " + ticket.description));
        list.append(item);
      }
      const f = msg.form;
      $("f-call_id").value = msg.call_id;
      $("f-category").value = f.category;
      $("f-subject-search").value = "";
      filterSubjects("");
      $("f-subject_code").value = f.subject_code;
      $("f-caller_number").value = withheld(f.caller_number) ? "" : f.caller_number;
      $("f-description").value = f.description;
      // Remember what was prefilled: a later transcript (pop_speech) fills only untouched fields.
      for (const id of PREFILLED) $(id).dataset.prefilled = $(id).value;
      for (const id of ["f-caller_name", "f-contact", "f-address"]) $(id).value = "";
      $("f-subject_code").dispatchEvent(new Event("change"));  // the catalogue's unit
      $("f-confidential").checked = false;
      $("ticket-result").hidden = true;
      showError("ticket-error", null);
      $("threeway-stage").dataset.stage = "";
      $("threeway-stage").textContent = "";
      $("hold-state").dataset.state = "talking";
      $("hold-state").textContent = "";
      $("call-steps").replaceChildren();
      Object.assign(view, { pop: true, held: "talking", stage: "" });
      dirty = false;
      filed = "";
      apply();
    }

    // The subject tree, searched: options not matching every word typed are hidden, and the
    // first match is chosen (its parents stay visible so the tree still reads as a tree).
    function filterSubjects(text) {
      const words = text.trim().toLowerCase().split(/\s+/).filter((w) => w);
      const options = [...$("f-subject_code").options];
      const matched = options.filter((o) => words.every((w) => (o.dataset.words || "").toLowerCase().includes(w)));
      const shown = new Set(matched.map((o) => o.value));
      for (const o of matched) { // "02.01" keeps "02" above it
        const parts = o.value.split(".");
        for (let i = 1; i < parts.length; i++) shown.add(parts.slice(0, i).join("."));
      }
      for (const o of options) o.hidden = !shown.has(o.value);
      return matched[0] || null;
    }
    $("f-subject-search").addEventListener("input", () => {
      const first = filterSubjects($("f-subject-search").value);
      if (first) $("f-subject_code").value = first.value;
      $("f-subject_code").dispatchEvent(new Event("change"));
    });

    const threeway = (action, body) => post("/desk/api/threeway/" + action, body)
      .then(() => showError("threeway-error", null), (err) => showError("threeway-error", err));
    $("threeway-start").onclick = () => threeway("start", { department: $("department").value });
    $("threeway-leave").onclick = () => threeway("leave");
    $("threeway-drop").onclick = () => threeway("drop");
    $("transfer-consult").onclick = () => threeway("consult", { department: $("department").value });
    $("transfer-complete").onclick = () => threeway("complete");
    $("transfer-cancel").onclick = () => threeway("cancel");

    const control = (action, body) => post("/desk/api/call/" + action, body)
      .then((done) => {
        showError("threeway-error", null);
        if (done.type === "hold") {
          $("hold-state").dataset.state = done.state;
          $("hold-state").textContent = t("held_" + done.state);
          view.held = done.state;
          apply();
        }
      }, (err) => showError("threeway-error", err));
    $("call-hold").onclick = () => control("hold");
    $("call-resume").onclick = () => control("resume");
    $("call-hangup").onclick = () => control("hangup");
    $("transfer-blind").onclick = () => control("transfer", { department: $("department").value });
    for (const button of document.querySelectorAll("button.emergency")) {
      button.onclick = () => control("emergency", { number: button.dataset.number });
    }

    function showStep(msg) {
      if ($("pop").dataset.callId !== msg.call_id) return;
      const item = el("li", clockTime(msg.at) + " " + t("step_" + msg.step)
        + (msg.detail.number || msg.detail.department ? " " + (msg.detail.number || msg.detail.department) : ""));
      item.dataset.step = msg.step;
      $("call-steps").append(item);
    }

    $("kb-form").onsubmit = async (ev) => {
      ev.preventDefault();
      try {
        const resp = await fetch("/desk/api/kb?q=" + encodeURIComponent($("kb-query").value), { credentials: "same-origin" });
        const data = await resp.json();
        if (!resp.ok) throw apiError(data, resp);
        $("kb-results").replaceChildren(...data.articles.map((a) => {
          const item = el("li", undefined, a.stale ? "stale" : "");
          item.dataset.id = a.id;
          item.dataset.stale = a.stale;
          item.append(el("strong", a.title), el("p", a.body, "pre"),
            el("small", t("kb_owner") + ": " + a.owner_unit + " · " + t("kb_review") + ": " + a.review_date));
          if (a.stale) item.append(el("p", t("kb_stale"), "flag"));
          return item;
        }));
        $("kb-none").hidden = data.articles.length > 0;
        note("kb", data);
      } catch (err) {
        showError("ticket-error", err);
      }
    };

    // The dispatch catalogue's lead unit for the subject and the address's area (派单目录).
    let suggestTimer = null;
    const suggestUnit = () => {
      clearTimeout(suggestTimer);
      suggestTimer = setTimeout(async () => {
        const q = "subject_code=" + encodeURIComponent($("f-subject_code").value)
          + "&address=" + encodeURIComponent($("f-address").value);
        try {
          const resp = await fetch("/desk/api/catalogue/suggest?" + q, { credentials: "same-origin" });
          if (!resp.ok) return;
          const got = await resp.json();
          const s = got.suggestion;
          const out = $("f-suggested-unit");
          out.dataset.unit = s ? s.lead_unit : "";
          // Unit codes as code (they are identifiers, not words); the rest in the page's language.
          out.replaceChildren(...(s
            ? [el("code", s.lead_unit),
               ...(s.co_units.length ? [document.createTextNode("（" + t("co_units") + " "),
                 ...s.co_units.map((u) => el("code", u)), document.createTextNode("）")] : []),
               document.createTextNode(got.area_name ? " · " + got.area_name : "")]
            : [document.createTextNode(t("no_suggestion"))]));
        } catch (err) { /* the suggestion is a help; the form works without it */ }
      }, 300);
    };
    $("f-subject_code").addEventListener("change", suggestUnit);
    $("f-address").addEventListener("input", suggestUnit);

    $("ticket-form").onsubmit = async (ev) => {
      ev.preventDefault();
      const body = {
        call_id: $("f-call_id").value,
        category: $("f-category").value,
        subject_code: $("f-subject_code").value,
        caller_number: $("f-caller_number").value,
        caller_name: $("f-caller_name").value,
        contact: $("f-contact").value,
        address: $("f-address").value,
        description: $("f-description").value,
        confidential: $("f-confidential").checked,
      };
      try {
        const created = await post("/desk/api/tickets", body);
        $("ticket-link").textContent = created.number;
        $("ticket-link").href = created.url;
        $("ticket-result").hidden = false;
        showError("ticket-error", null);
        filed = created.number;
        note("ticket", created);
        // Filed after the call and its wrap-up: nothing is left to keep the pop open for.
        if (!$("pop-close").hidden) archivePop("done");
      } catch (err) {
        showError("ticket-error", err);
      }
    };

    connect((msg) => {
      note(msg.type, msg);
      if (msg.type === "state") showState(msg);
      else if (msg.type === "pop") {
        showPop(msg);
        // After the next frame is painted: the pop is on the screen (the latency bench's end).
        requestAnimationFrame(() => setTimeout(() => note("pop_painted", { call_id: msg.call_id, offered_at: msg.offered_at, sent_at: msg.sent_at }), 0));
      }
      else if (msg.type === "pop_speech") showPopSpeech(msg);
      else if (msg.type === "answered") $("pop-status").textContent = t("state_on_call");
      else if (msg.type === "step") showStep(msg);
      else if (msg.type === "threeway") {
        $("threeway-stage").dataset.stage = msg.stage;
        $("threeway-stage").textContent = msg.department + ": " + t("tw_" + msg.stage);
        if ($("pop").dataset.callId === msg.call_id) { view.stage = msg.stage; apply(); }
      }
    });
    apply();
  }

  // -- wallboard ------------------------------------------------------------------------------
  function pct(value) { return value === null || value === undefined ? "—" : (value * 100).toFixed(1) + "%"; }
  const secs = (value) => Math.round(value || 0);

  function wallboardPage() {
    const hasPhone = $("agents").dataset.hasPhone === "true";
    function cell(text, level) {
      const td = el("td", text);
      if (level) td.dataset.level = level;
      return td;
    }
    function row(cells, cls) {
      const tr = el("tr", undefined, cls);
      for (const c of cells) tr.append(c instanceof Node ? c : el("td", c));
      return tr;
    }
    function tile(id, text, level) {
      const figure = $(id).querySelector(".figure");
      figure.textContent = String(text);
      if (level) figure.dataset.level = level;
    }
    function force(agentId, action) {
      post("/desk/api/agents/" + encodeURIComponent(agentId) + "/" + action)
        .then(() => showError("board-error", null), (err) => showError("board-error", err));
    }
    function render(b) {
      const warn = $("calendar-warning");
      warn.hidden = !b.calendar_warning;
      // In the page's language from the year (the engine's own text is the operator's Chinese).
      const said = b.calendar_provisional_year
        ? t("calendar_provisional").replace("{year}", b.calendar_provisional_year) : b.calendar_warning || "";
      // The warning names the command that fixes it: shown as code, as the CLI spells it.
      warn.replaceChildren(...said.split(/(hotline(?: [\w.\/=-]+)+)/)
        .map((part, i) => (i % 2 ? el("code", part) : document.createTextNode(part))));
      // Hot spots (热点): many tickets on one subject in one area within the window.
      const spots = b.hotspots || [];
      $("hotspots").hidden = !spots.length;
      $("hotspot-list").textContent = spots.map((s) => t("hotspot_line")
        .replace("{area}", s.area_name).replace("{subject}", s.subject_name)
        .replace("{count}", s.count).replace("{minutes}", s.window_minutes)).join("；");
      const all = b.skills.find((s) => s.skill === "*");
      if (all) {
        tile("tile-waiting", all.waiting, all.waiting ? all.wait_level : "green");
        tile("tile-longest", secs(all.longest_wait_s), all.wait_level);
        tile("tile-sl-today", pct(all.sl_today), all.sl_today_level);
        tile("tile-sl-interval", pct(all.sl_interval), all.sl_interval_level);
        tile("tile-offered", all.offered_today);
        tile("tile-answered", all.answered_today);
        tile("tile-abandoned", all.abandoned_today);
        tile("tile-satisfaction", pct(all.satisfaction_today));
      }
      $("skills").tBodies[0].replaceChildren(...b.skills.map((s) => {
        const states = Object.entries(s.agents).map(([k, v]) => t("state_" + k) + " " + v).join("，");
        const tr = row([skillText(s.skill), cell(s.waiting, s.waiting ? s.wait_level : ""),
          cell(secs(s.longest_wait_s), s.wait_level), cell(pct(s.sl_today), s.sl_today_level),
          cell(pct(s.sl_interval), s.sl_interval_level), s.offered_today, s.answered_today,
          s.abandoned_today, states], s.over_target ? "over" : "");
        tr.dataset.skill = s.skill;
        tr.dataset.offered = s.offered_today;
        tr.dataset.answered = s.answered_today;
        return tr;
      }));
      $("waiting").tBodies[0].replaceChildren(...b.waiting.map((w) => {
        const state = t("ev_" + w.state) + (w.node ? " @" + w.node : ""); // a cluster's node
        const tr = row([w.caller || t("unknown_number"), skillText(w.skill), state,
          cell(secs(w.waited_s), w.wait_level)], w.over_target ? "over" : "");
        tr.dataset.caller = w.caller;
        tr.dataset.node = w.node || "";
        tr.dataset.level = w.wait_level;
        return tr;
      }));
      $("agents").tBodies[0].replaceChildren(...b.agents.map((a) => {
        const buttons = el("td");
        const nr = el("button", t("force_not_ready"));
        nr.type = "button"; nr.className = "force-not-ready"; nr.onclick = () => force(a.agent_id, "not-ready");
        nr.disabled = !["ready", "not_ready", "wrap_up"].includes(a.state);
        const lo = el("button", t("force_logout"));
        lo.type = "button"; lo.className = "force-logout"; lo.onclick = () => force(a.agent_id, "logout");
        lo.disabled = !["ready", "not_ready", "wrap_up"].includes(a.state);
        buttons.append(nr, lo);
        if (a.state === "on_call") {
          for (const mode of ["listen", "whisper", "barge"]) {
            const b = el("button", t("spy_" + mode));
            b.type = "button"; b.className = "spy-" + mode;
            // Without a phone of their own the supervisor cannot be rung: disabled, and why.
            b.disabled = !hasPhone;
            if (!hasPhone) b.title = t("err_no_phone");
            b.onclick = () => post("/desk/api/agents/" + encodeURIComponent(a.agent_id) + "/spy/" + mode)
              .then(() => showError("board-error", null), (err) => showError("board-error", err));
            buttons.append(b);
          }
        }
        const reason = a.reason ? t("reason_" + a.reason)
          : a.after_call ? t("after_call") + ": " + t("reason_" + a.after_call) : "";
        const tr = row([a.agent_id, t("state_" + a.state), reason, clock(a.for_s), buttons]);
        tr.dataset.agent = a.agent_id;
        tr.dataset.state = a.state;
        return tr;
      }));
      $("recent").replaceChildren(...b.recent.map((r) => {
        const li = el("li", clockTime(r.at) + " " + t("ev_" + r.kind) + " " + (r.caller || t("unknown_number"))
          + (r.agent_id ? " → " + t("agent") + " " + r.agent_id : ""));
        li.dataset.kind = r.kind;
        li.dataset.caller = r.caller;
        return li;
      }));
      $("wall-clock").textContent = clockTime(b.at);
    }
    connect((msg) => { if (msg.type === "wallboard") { note("wallboard", msg); render(msg); } });

    // Full screen: the wall alone (no header), as large as the screen allows. The class works
    // where the Fullscreen API is refused (a kiosk browser started full-screen already).
    function setWall(on) {
      document.body.classList.toggle("wall", on);
      $("fullscreen").setAttribute("aria-pressed", String(on));
      $("fullscreen").textContent = t(on ? "fullscreen_exit" : "fullscreen");
    }
    $("fullscreen").onclick = () => {
      const on = !document.body.classList.contains("wall");
      setWall(on);
      if (on && document.documentElement.requestFullscreen) document.documentElement.requestFullscreen().catch(() => {});
      else if (!on && document.fullscreenElement) document.exitFullscreen().catch(() => {});
    };
    document.addEventListener("fullscreenchange", () => { if (!document.fullscreenElement) setWall(false); });

    // Today's offered calls per half hour (bars) against agents staffed and the plan (lines),
    // with a y axis (calls / agents), hours along the x axis and the legend above.
    const SVG = "http://www.w3.org/2000/svg";
    function svg(tag, attrs, text) {
      const node = document.createElementNS(SVG, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
      if (text !== undefined) node.textContent = String(text);
      return node;
    }
    function drawChart(c) {
      const chart = $("chart");
      const W = 1000, H = 240, left = 44, right = 8, top = 24, bottom = 34;
      const slot = (W - left - right) / c.rows.length;
      const peak = Math.max(1, ...c.rows.flatMap((r) => [r.offered || 0, r.staffed || 0, r.planned || 0]));
      const step = Math.max(1, Math.ceil(peak / 4));
      const most = step * 4;
      const y = (v) => top + (H - top - bottom) * (1 - v / most);
      const x = (i) => left + i * slot;
      const parts = [];
      for (let v = 0; v <= most; v += step) {  // the y axis' ticks and grid
        parts.push(svg("line", { x1: left, y1: y(v), x2: W - right, y2: y(v), class: "chart-grid" }));
        parts.push(svg("text", { x: left - 6, y: y(v) + 4, class: "chart-label", "text-anchor": "end" }, v));
      }
      c.rows.forEach((r, i) => {
        if (r.offered) {
          const bar = svg("rect", { x: x(i) + 1, y: y(r.offered), width: Math.max(1, slot - 2), height: y(0) - y(r.offered), class: "bar-offered" });
          bar.dataset.slot = r.start; bar.dataset.offered = r.offered;
          bar.append(svg("title", {}, r.start + " " + t("chart_offered") + " " + r.offered));
          parts.push(bar);
        }
        if (i % 4 === 0) {
          parts.push(svg("line", { x1: x(i), y1: y(0), x2: x(i), y2: y(0) + 4, class: "chart-axis" }));
          parts.push(svg("text", { x: x(i), y: H - bottom + 16, class: "chart-label", "text-anchor": "middle" }, r.start));
        }
      });
      const line = (key, cls) => {
        // A step across each half hour: one slot of data (just after midnight) is still a line.
        const points = c.rows.map((r, i) => (r[key] === null ? null : x(i) + "," + y(r[key]) + " " + x(i + 1) + "," + y(r[key]))).filter((p) => p);
        const node = svg("polyline", { points: points.join(" "), class: cls });
        node.dataset.series = key;
        return node;
      };
      parts.push(svg("line", { x1: left, y1: y(0), x2: W - right, y2: y(0), class: "chart-axis", "data-axis": "x" }));
      parts.push(svg("line", { x1: left, y1: top, x2: left, y2: y(0), class: "chart-axis", "data-axis": "y" }));
      parts.push(svg("text", { x: 4, y: 12, class: "chart-title" }, t("chart_y")));
      parts.push(svg("text", { x: W - right, y: H - 2, class: "chart-title", "text-anchor": "end" }, t("chart_x")));
      parts.push(line("staffed", "line-staffed"), line("planned", "line-planned"));
      chart.replaceChildren(...parts);
      chart.dataset.day = c.day;
      note("chart", c);
    }
    const loadChart = () => fetch("/desk/api/wallboard/chart", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : r.json().then((d) => Promise.reject(apiError(d, r)))))
      .then(drawChart, (err) => showError("board-error", err));
    loadChart();
    setInterval(loadChart, 60_000);
  }

  // -- ticket ---------------------------------------------------------------------------------
  // Each linked call's recordings the user may hear (the recordings' own access rules decide).
  function ticketPage() {
    for (const item of document.querySelectorAll("#t-calls li[data-call]")) {
      fetch("/desk/recordings?call=" + encodeURIComponent(item.dataset.call), { credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : { recordings: [] }))
        .then((data) => {
          const slot = item.querySelector(".recordings");
          for (const rec of data.recordings) {
            if (rec.deleted_at) continue;
            const player = el("audio");
            player.controls = true;
            player.preload = "none";
            player.src = "/desk/recordings/" + encodeURIComponent(rec.id) + "/audio";
            player.dataset.recording = rec.id;
            player.setAttribute("aria-label", t("recording") + " " + rec.id);
            slot.append(player);
          }
          note("recordings", { call: item.dataset.call, count: data.recordings.length });
        });
    }
  }

  // -- disputes, merging, 双非 (issue 17) -------------------------------------------------------
  // Each form posts one lifecycle step; the refusal (its code) is shown in the page's language.
  function ticketSteps() {
    const dispute = $("dispute-form");
    if (dispute) {
      dispute.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        showError("dispute-error", null);
        try {
          await post("/desk/api/tickets/" + encodeURIComponent(dispute.dataset.number) + "/dispute",
            { reason: $("dispute-reason").value, proposed_unit: $("dispute-proposed").value });
          location.reload();
        } catch (err) { showError("dispute-error", err); }
      });
    }
    const find = $("merge-find");
    if (find) {
      let lead = "";
      find.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        showError("merge-error", null);
        $("merge-found").hidden = true;
        const number = $("merge-lead").value.trim();
        try {
          const resp = await fetch("/desk/api/tickets/" + encodeURIComponent(number) + "/brief",
            { credentials: "same-origin" });
          let data = {};
          try { data = await resp.json(); } catch (e) { data = {}; }
          if (!resp.ok) throw apiError(data, resp);
          lead = data.number;
          $("merge-brief").textContent = fill(t("merge_found"), { number: data.number,
            state: data.state, subject: data.subject, caller: callerText(data.caller_number),
            merged: data.merged });
          $("merge-brief").dataset.lead = data.number;
          $("merge-found").hidden = false;
          $("merge-submit").disabled = !data.open;
          if (!data.open) showError("merge-error", new Error(t("err_merge_lead_closed")));
        } catch (err) { showError("merge-error", err); }
      });
      $("merge-submit").addEventListener("click", async () => {
        showError("merge-error", null);
        try {
          await post("/desk/api/tickets/" + encodeURIComponent(find.dataset.number) + "/merge",
            { lead: lead, note: $("merge-note").value });
          location.assign("/desk/tickets/" + encodeURIComponent(lead));
        } catch (err) { showError("merge-error", err); }
      });
    }
    for (const form of document.querySelectorAll(".double-non-form")) {
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const out = form.querySelector(".dn-error");
        out.hidden = true;
        try {
          await post("/desk/api/tickets/" + encodeURIComponent(form.dataset.number) + "/double-non",
            { call_id: form.dataset.call, double_non: form.dataset.flag === "true",
              reason: form.querySelector(".dn-reason").value });
          location.reload();
        } catch (err) { out.hidden = false; out.textContent = t("error") + ": " + err.message; }
      });
    }
  }

  function disputesPage() {
    for (const box of document.querySelectorAll("section.dispute")) {
      const number = box.dataset.number;
      const out = box.querySelector(".d-error");
      const fail = (err) => { out.hidden = false; out.textContent = t("error") + ": " + err.message; };
      const base = "/desk/api/tickets/" + encodeURIComponent(number);
      box.querySelector(".redispatch-form").addEventListener("submit", async (ev) => {
        ev.preventDefault();
        out.hidden = true;
        const other = box.querySelector(".rd-other").value.trim();
        const picked = box.querySelector('input[type="radio"]:checked');
        try {
          await post(base + "/redispatch", { unit: other || (picked ? picked.value : ""),
            note: box.querySelector(".rd-note").value });
          location.reload();
        } catch (err) { fail(err); }
      });
      box.querySelector(".confirm-form").addEventListener("submit", async (ev) => {
        ev.preventDefault();
        out.hidden = true;
        try {
          await post(base + "/confirm", { reason: box.querySelector(".cf-reason").value });
          location.reload();
        } catch (err) { fail(err); }
      });
    }
  }

  // Pages without a live feed have no connection to show.
  if (page !== "agent" && page !== "wallboard") {
    const conn = document.querySelector("header .conn");
    if (conn) conn.hidden = true;
  }
  if (page === "agent") agentPage();
  else if (page === "wallboard") wallboardPage();
  else if (page === "ticket") { ticketPage(); ticketSteps(); }
  else if (page === "disputes") disputesPage();
})();
