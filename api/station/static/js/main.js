// The station page: sign in, the day board, one session; live through /v1/events.
import { ApiError, describeProblem, forgetToken, get, setUnauthorizedHandler, signIn, token } from "./api.js";
import { loadBoard, renderBoard } from "./board.js";
import { clockWithZone } from "./format.js";
import { LiveStream } from "./live.js";
import { SessionView } from "./session.js";

const $ = (id) => document.getElementById(id);
const state = { user: null, board: null, view: "board", session: null, live: false, asOf: null };

const stream = new LiveStream({ onEvent, onState });

function show(which) {
  for (const id of ["sign-in", "board", "session"]) $(id).hidden = id !== which;
}

function onState(liveState) {
  const badge = $("live-status");
  state.live = liveState === "on";
  badge.className = `live ${liveState}`;
  badge.textContent = { on: "Live", reconnecting: "Reconnecting…", off: "Not connected" }[liveState];
  const banner = $("stale-banner");
  if (state.user && !state.live) {
    banner.hidden = false;
    banner.textContent = liveState === "reconnecting"
      ? `Not live: reconnecting to the server. What you see is from ${state.asOf ? clockWithZone(state.asOf) : "earlier"} and may be out of date.`
      : "Not live: connecting to the server…";
  } else {
    banner.hidden = true;
  }
  for (const id of ["board", "session"]) $(id).classList.toggle("stale-data", !!state.user && !state.live);
}

let pending = null;
function refreshSoon() {
  clearTimeout(pending);
  pending = setTimeout(() => refresh().catch(reportError), 250);
}

function onEvent(event) {
  if (event.type === "connected") {
    refreshSoon(); // (re)connected: read again what we show, the gap included
    return;
  }
  refreshSoon();
}

// One refresh at a time, and another after it when something happened meanwhile (see
// SessionView.refresh): what is shown is always one consistent read.
let inflight = null, again = false;
function refresh() {
  if (inflight) {
    again = true;
    return inflight;
  }
  inflight = (async () => {
    do {
      again = false;
      await load();
    } while (again);
  })().finally(() => { inflight = null; });
  return inflight;
}

async function load() {
  if (!state.user) return;
  state.board = await loadBoard();
  state.asOf = state.board.generated_at;
  if (state.view === "board") {
    renderBoard($("board"), state.board, { onOpen: openSession, live: state.live });
  } else if (state.session) {
    const row = state.board.sessions.find((s) => s.session_id === state.session.id);
    state.session.setRow(row);
    await state.session.refresh();
  }
}

function reportError(err) {
  if (err instanceof ApiError && err.status === 401) return;
  const banner = $("stale-banner");
  banner.hidden = false;
  banner.textContent = describeProblem(err).detail;
}

async function openSession(row) {
  state.view = "session";
  state.session = new SessionView($("session"), row, { user: state.user, onBack: backToBoard });
  show("session");
  await state.session.refresh().catch(reportError);
  $("session-title")?.focus?.();
  window.scrollTo(0, 0);
}

function backToBoard() {
  state.view = "board";
  state.session = null;
  show("board");
  refresh().catch(reportError);
}

async function start() {
  try {
    state.user = await get("/v1/users/me");
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) showSignIn(describeProblem(err).detail);
    return;
  }
  $("who").hidden = false;
  $("who-name").textContent = `${state.user.display_name || state.user.username} (${state.user.role})`;
  state.view = "board";
  show("board");
  onState("off");
  await refresh().catch(reportError);
  stream.start();
}

function showSignIn(message) {
  state.user = null;
  state.board = null;
  state.session = null;
  stream.stop();
  $("who").hidden = true;
  $("board").replaceChildren();
  $("session").replaceChildren();
  $("stale-banner").hidden = true;
  $("sign-in-message").textContent = message || "";
  show("sign-in");
  $("username").focus();
}

setUnauthorizedHandler((detail) => {
  if (!state.user && !token()) return;
  forgetToken();
  showSignIn(`You are signed out: ${detail || "your sign-in has expired."} Sign in again.`);
});

$("sign-in-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("sign-in-message").textContent = "";
  try {
    await signIn($("username").value.trim(), $("password").value);
    $("password").value = "";
    await start();
  } catch (err) {
    $("sign-in-message").textContent = describeProblem(err).detail;
    $("password").select();
  }
});

$("sign-out").addEventListener("click", async () => {
  try { await fetch("/v1/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${token()}` } }); } catch {}
  forgetToken();
  showSignIn("Signed out.");
});

// Time-dependent values (minutes since the dose, readiness) move on without events.
setInterval(() => { if (state.user && state.live) refresh().catch(reportError); }, 60000);

if (token()) start(); else showSignIn("");
