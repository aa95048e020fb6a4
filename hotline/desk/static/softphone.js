// The agent page's WebRTC softphone: SIP.js (served by the engine from hotline/desk/vendor, no CDN)
// registers the agent's browser seat PJSIP/webrtc-<id> over Asterisk's SIP WebSocket; calls
// come in with a ringing tone, and are answered, held, muted and hung up from #softphone.
// Audio is DTLS-SRTP (the endpoint's webrtc = yes). Hold is the call panel's own (the engine
// puts the citizen on music on hold and records the step), so the page has one hold, not two.
// Every problem is said in the page's language (the catalogue in hotline/base/i18n.py), the
// microphone's above all: a refused, missing or busy microphone each get their own sentence.
const T = JSON.parse(document.getElementById("i18n").textContent);
const t = (key) => T[key] || key;
const $ = (id) => document.getElementById(id);
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const panel = $("softphone");

const state = {
  ua: null, registerer: null, session: null, muted: false, held: false, ring: null, seat: "",
  mic: null, // a known microphone problem: it stays said until the microphone works
};
window.hotlineSoftphone = state; // tests and a curious supervisor can look, nothing more

function show(what, detail) {
  panel.dataset.state = what;
  // Registered, but the agent works at another seat (the seat panel's): calls ring there.
  const seat = $("seat") && $("seat").textContent.trim();
  const elsewhere = what === "registered" && state.seat && seat && seat !== state.seat;
  $("softphone-status").textContent = t(elsewhere ? "sp_registered_elsewhere" : "sp_" + what)
    + (detail ? " " + detail : "");
  const live = state.session !== null;
  const established = what === "talking" || what === "held";
  $("sp-seat-login").disabled = what !== "registered";
  $("sp-answer").disabled = what !== "ringing";
  $("sp-hangup").disabled = !live;
  $("sp-hold").disabled = !established;
  $("sp-mute").disabled = !established;
  $("sp-hold").textContent = t(state.held ? "sp_resume" : "sp_hold");
  $("sp-mute").textContent = t(state.muted ? "sp_unmute" : "sp_mute");
  $("sp-mute").setAttribute("aria-pressed", String(state.muted));
  $("sp-hold").setAttribute("aria-pressed", String(state.held));
}

function fail(key, err) {
  // Clearing an error (registered, answered) must not hide a microphone that still does not
  // work: the registration may well finish after the browser refused the microphone.
  const shown = key || state.mic;
  const node = $("softphone-error");
  node.hidden = !shown;
  node.textContent = shown ? t(shown) : "";
  if (err) console.warn("softphone:", key, err);
}

// getUserMedia's errors, each said plainly: what happened and what to do.
function micProblem(err) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError") return "sp_mic_denied";
  if (name === "NotFoundError" || name === "OverconstrainedError") return "sp_mic_missing";
  if (name === "NotReadableError" || name === "AbortError") return "sp_mic_busy";
  return "sp_mic_other";
}

async function checkMicrophone() {
  if (!window.isSecureContext || !navigator.mediaDevices) {
    state.mic = "sp_mic_insecure";
    fail(state.mic);
    return false;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    for (const track of stream.getTracks()) track.stop();
    state.mic = null;
    return true;
  } catch (err) {
    state.mic = micProblem(err);
    fail(state.mic, err);
    return false;
  }
}

// The ringing tone: 450 Hz (the Chinese network's tone), one second in every three, made by
// Web Audio (no sound file to serve). Browsers start audio only after a click on the page.
let audioContext = null;
function ringStart() {
  if (state.ring) return;
  try {
    audioContext = audioContext || new AudioContext();
    audioContext.resume();
    const gain = audioContext.createGain();
    gain.gain.value = 0;
    gain.connect(audioContext.destination);
    const osc = audioContext.createOscillator();
    osc.frequency.value = 450;
    osc.connect(gain);
    osc.start();
    const beat = () => {
      const now = audioContext.currentTime;
      gain.gain.setValueAtTime(0.2, now);
      gain.gain.setValueAtTime(0, now + 1);
    };
    beat();
    state.ring = { osc, gain, timer: setInterval(beat, 3000) };
  } catch (err) {
    console.warn("softphone: no ringing tone", err);
  }
}
function ringStop() {
  if (!state.ring) return;
  clearInterval(state.ring.timer);
  state.ring.osc.stop();
  state.ring.gain.disconnect();
  state.ring = null;
}
document.addEventListener("click", () => audioContext && audioContext.resume(), { capture: true });

function attachAudio(session) {
  const sdh = session.sessionDescriptionHandler;
  if (!sdh) return;
  const audio = $("softphone-audio");
  audio.srcObject = sdh.remoteMediaStream;
  audio.play().catch((err) => console.warn("softphone: remote audio not playing", err));
}

function setMuted(muted) {
  state.muted = muted;
  const sdh = state.session && state.session.sessionDescriptionHandler;
  if (sdh && sdh.peerConnection) {
    for (const sender of sdh.peerConnection.getSenders()) {
      if (sender.track) sender.track.enabled = !muted;
    }
  }
}

function incoming(SIP, invitation) {
  if (state.session) { // one call at a time: the ACD never offers a second, anyone else waits
    invitation.reject({ statusCode: 486 });
    return;
  }
  state.session = invitation;
  state.muted = false;
  state.held = false;
  const from = invitation.remoteIdentity;
  const who = (from && (from.displayName || from.uri.user)) || "";
  invitation.stateChange.addListener((s) => {
    if (s === SIP.SessionState.Established) {
      ringStop();
      attachAudio(invitation);
      show("talking");
    } else if (s === SIP.SessionState.Terminated) {
      ringStop();
      state.session = null;
      state.held = false;
      state.muted = false;
      $("softphone-audio").srcObject = null;
      show(state.registerer && state.registerer.state === SIP.RegistererState.Registered
        ? "registered" : "unregistered");
    }
  });
  ringStart();
  show("ringing", who);
}

async function answer() {
  const inv = state.session;
  if (!inv) return;
  fail(null);
  ringStop();
  try {
    await inv.accept({ sessionDescriptionHandlerOptions: { constraints: { audio: true, video: false } } });
  } catch (err) {
    // The microphone is the usual reason: say which problem it is.
    fail(err && err.name && err.name !== "Error" ? micProblem(err) : "sp_answer_failed", err);
  }
}

async function hangup(SIP) {
  const s = state.session;
  if (!s) return;
  try {
    if (s.state === SIP.SessionState.Established) await s.bye();
    else if (s.state === SIP.SessionState.Initial || s.state === SIP.SessionState.Establishing) {
      await s.reject();
    }
  } catch (err) {
    fail("sp_hangup_failed", err);
  }
}

// Log in to the ACD at this browser's seat (the seat panel's button logs in at the configured one).
async function seatLogin() {
  try {
    const resp = await fetch("/desk/api/seat/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ seat: "browser" }),
    });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(data.error || resp.statusText);
    fail(null);
  } catch (err) {
    fail("sp_seat_login_failed", err);
  }
}

async function toggleHold() {
  const action = state.held ? "resume" : "hold";
  try {
    const resp = await fetch("/desk/api/call/" + action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: "{}",
    });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(data.error || resp.statusText);
    state.held = data.state === "held";
    fail(null);
    show(state.held ? "held" : "talking");
    const holdState = $("hold-state"); // the call panel shows it too
    if (holdState) {
      holdState.dataset.state = data.state;
      holdState.textContent = t("held_" + data.state);
    }
  } catch (err) {
    fail("sp_hold_failed", err);
  }
}

async function start() {
  show("connecting");
  let conf;
  try {
    const resp = await fetch("/desk/api/softphone", { credentials: "same-origin" });
    conf = await resp.json();
    if (!resp.ok) {
      show(conf.code === "softphone_off" ? "off" : "unregistered");
      if (conf.code === "softphone_missing") fail("sp_missing");
      return;
    }
  } catch (err) {
    show("unregistered");
    fail("sp_config_failed", err);
    return;
  }
  $("softphone-seat").textContent = conf.seat;
  state.seat = conf.seat;
  if ($("seat")) { // the seat panel shows where the agent is logged in: say where calls ring
    const again = () => { if (panel.dataset.state === "registered") show("registered"); };
    new MutationObserver(again).observe($("seat"), { childList: true });
  }
  let SIP;
  try {
    SIP = await import(conf.library);
  } catch (err) {
    show("unregistered");
    fail("sp_missing", err);
    return;
  }
  checkMicrophone(); // asks for the microphone now, not when a citizen is waiting
  const ua = new SIP.UserAgent({
    uri: SIP.UserAgent.makeURI(conf.uri),
    authorizationUsername: conf.user,
    authorizationPassword: conf.password,
    transportOptions: { server: conf.ws_url, traceSip: false },
    logLevel: "warn",
    sessionDescriptionHandlerFactoryOptions: {
      peerConnectionConfiguration: { iceServers: [] }, // Asterisk's own address: no STUN
      iceGatheringTimeout: 1000,
    },
    delegate: {
      onInvite: (invitation) => incoming(SIP, invitation),
      onDisconnect: (err) => {
        if (!err) return;
        show("unregistered");
        fail("sp_ws_failed");
        setTimeout(reconnect, 3000);
      },
    },
  });
  const registerer = new SIP.Registerer(ua, { expires: 300 });
  state.ua = ua;
  state.registerer = registerer;
  registerer.stateChange.addListener((s) => {
    if (state.session) return;
    if (s === SIP.RegistererState.Registered) { fail(null); show("registered"); }
    else if (s === SIP.RegistererState.Unregistered) show("unregistered");
  });
  async function reconnect() {
    try {
      await ua.reconnect();
      await registerer.register();
    } catch (err) {
      setTimeout(reconnect, 5000);
    }
  }
  $("sp-seat-login").onclick = seatLogin;
  $("sp-answer").onclick = answer;
  $("sp-hangup").onclick = () => hangup(SIP);
  $("sp-hold").onclick = toggleHold;
  $("sp-mute").onclick = () => { setMuted(!state.muted); show(panel.dataset.state); };
  try {
    await ua.start();
    await registerer.register();
  } catch (err) {
    show("unregistered");
    fail("sp_ws_failed", err);
    setTimeout(reconnect, 3000);
  }
  window.addEventListener("beforeunload", () => { registerer.unregister().catch(() => {}); });
}

if (panel) start();
