// The clinic's live stream (GET /v1/events) in the browser: EventSource cannot send the
// Authorization header, so every (re)connection asks for a one-time ticket first. A dropped
// stream is reopened with the id of the last event seen (?last_event_id=), so the server sends
// what was missed; the page also re-reads what it shows, and says plainly that it is not live
// until the stream is back.
import { post, ApiError } from "./api.js";

const STREAM = "/v1/events";
const SILENCE_MS = 40000; // heartbeats come every 15 s: this long without one is a dead stream

export class LiveStream {
  constructor({ onEvent, onState }) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.source = null;
    this.lastEventId = null;
    this.retry = 1000;
    this.timer = null;
    this.watchdog = null;
    this.stopped = true;
    this.state = "off";
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.watchdog);
    if (this.source) this.source.close();
    this.source = null;
    this.lastEventId = null;
    this.setState("off");
  }

  setState(state, detail) {
    this.state = state;
    this.onState(state, detail);
  }

  async connect() {
    if (this.stopped) return;
    let ticket;
    try {
      ticket = (await post("/v1/events/tickets", { path: STREAM })).ticket;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return; // signed out: the page handles it
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) return;
    const url = new URL(STREAM, location.origin);
    url.searchParams.set("ticket", ticket);
    if (this.lastEventId !== null) url.searchParams.set("last_event_id", this.lastEventId);
    const source = new EventSource(url);
    this.source = source;
    const seen = (e) => {
      this.kick();
      if (e.lastEventId) this.lastEventId = e.lastEventId;
    };
    source.addEventListener("heartbeat", (e) => {
      seen(e);
      if (this.state !== "on") {
        const resumed = this.state === "reconnecting";
        this.retry = 1000;
        this.setState("on");
        this.onEvent({ type: "connected", resumed });
      }
    });
    for (const type of ["reading", "alert", "status"]) {
      source.addEventListener(type, (e) => {
        seen(e);
        let data = null;
        try { data = JSON.parse(e.data); } catch { return; }
        this.onEvent({ type, data });
      });
    }
    source.onerror = () => {
      // EventSource would retry with the same, already used, ticket: close and start over
      source.close();
      if (this.source === source) this.scheduleReconnect();
    };
  }

  kick() {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      if (this.source) this.source.close();
      this.scheduleReconnect();
    }, SILENCE_MS);
  }

  scheduleReconnect() {
    if (this.stopped) return;
    clearTimeout(this.watchdog);
    this.source = null;
    this.setState("reconnecting");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), this.retry);
    this.retry = Math.min(this.retry * 2, 10000);
  }
}
