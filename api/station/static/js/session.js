// One session: vitals chart with limits and phases, open alerts, readiness, and the forms.
import { describeProblem, get, post, put } from "./api.js";
import { CHART_SERIES, PHASE_COLOURS, drawChart } from "./chart.js";
import { clock, clockWithZone, el, localInputToIso, statusWords, VITALS } from "./format.js";

function refusal(err) {
  const p = describeProblem(err);
  return el("div", { class: "result refused", role: "alert" },
    el("div", {}, el("strong", {}, `Refused (${p.status || "no answer"}): `), p.detail),
    p.lines.length ? el("ul", {}, p.lines.map((l) => el("li", {}, l))) : null,
    p.unmet.length ? el("ul", { class: "unmet" }, p.unmet.map((u) =>
      el("li", {}, u.message, u.override ? el("div", { class: "override" }, u.override) : null))) : null);
}

function success(text) {
  return el("div", { class: "result ok", role: "status" }, text);
}

function overrideWords(overridable) {
  if (overridable === true) return "A clinician may override this with a reason.";
  if (overridable === false) return "No one can override this.";
  return null; // the API did not say
}

function unmetList(items) {
  return el("ul", { class: "unmet" }, items.map((u) => {
    const words = overrideWords(u.overridable);
    return el("li", {}, u.message, words ? el("div", { class: "override" }, words) : null);
  }));
}

let uid = 0;
function field(labelText, input) {
  const id = input.id || `f${++uid}`;
  input.id = id;
  return [el("label", { for: id }, labelText), input];
}

function form(title, fields, submitText, onSubmit) {
  const result = el("div", { "aria-live": "polite" });
  const node = el("form", { class: "card", "aria-label": title, novalidate: true },
    el("h3", {}, title), ...fields, el("button", { type: "submit" }, submitText), result);
  node.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = node.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const text = await onSubmit(node);
      result.replaceChildren(success(text || "Done."));
    } catch (err) {
      result.replaceChildren(refusal(err));
    } finally {
      button.disabled = false;
    }
  });
  return node;
}

const num = (node, name) => {
  const v = node.querySelector(`[name=${name}]`).value.trim();
  return v === "" ? undefined : Number(v);
};
const text = (node, name) => {
  const v = node.querySelector(`[name=${name}]`).value.trim();
  return v === "" ? undefined : v;
};
const checked = (node, name) => node.querySelector(`[name=${name}]`).checked;
const when = (node, name) => localInputToIso(node.querySelector(`[name=${name}]`).value) || new Date().toISOString();
const optionalWhen = (node, name) => localInputToIso(node.querySelector(`[name=${name}]`).value);
const compact = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

export class SessionView {
  constructor(root, row, { user, onBack }) {
    this.root = root;
    this.row = row;
    this.id = row.session_id;
    this.user = user;
    this.onBack = onBack;
    this.alertsKey = null;
    this.build();
  }

  build() {
    const r = this.row;
    this.header = el("div", { class: "card" });
    this.readiness = el("section", { class: "card", "aria-labelledby": "readiness-title" });
    this.alerts = el("section", { class: "card", "aria-labelledby": "alerts-title" },
      el("h2", { id: "alerts-title" }, "Open alerts"), el("div", { id: "alerts-list" }));
    this.chart = el("div", { class: "chart", role: "img", "aria-label": "Vitals over time" });
    this.readings = el("div");
    const legend = el("div", { class: "legend" },
      CHART_SERIES.map((s) => el("span", {}, el("span", { class: "swatch", style: `background:${s.stroke}` }), s.label)),
      el("span", {}, "Dashed lines: the plan's alert limits"),
      Object.entries(PHASE_COLOURS).map(([p, c]) =>
        el("span", {}, el("span", { class: "swatch", style: `background:${c}` }), `${p}-dose`)));
    const chartCard = el("section", { class: "card", "aria-labelledby": "chart-title" },
      el("h2", { id: "chart-title" }, "Vitals"), legend, this.chart, this.readings);
    this.root.replaceChildren(
      el("button", { type: "button", class: "secondary", onclick: () => this.onBack() }, "← Back to the board"),
      this.header,
      el("div", { class: "grid" }, this.alerts, this.readiness),
      chartCard,
      el("h2", {}, "Record"),
      el("div", { class: "grid" }, this.vitalsForm(), this.transitionForm(), this.doseForm(),
        this.scoreForm(), this.checklistForm(), this.dischargeChecklistForm()),
    );
    void r;
  }

  // One read at a time: a read still in flight when something new commits may mix old and new
  // answers, so another read follows it, and only complete reads are shown.
  refresh() {
    if (this.inflight) {
      this.again = true;
      return this.inflight;
    }
    this.inflight = (async () => {
      do {
        this.again = false;
        await this.load();
      } while (this.again);
    })().finally(() => { this.inflight = null; });
    return this.inflight;
  }

  async load() {
    const base = `/v1/sessions/${this.id}`;
    const [record, vitals, alerts, readiness] = await Promise.all([
      get(base),
      get(`${base}/vitals`, { limit: 500 }),
      get(`${base}/alerts`, { status: "open", limit: 100 }),
      get(`${base}/readiness`),
    ]);
    this.record = record;
    this.renderHeader(record);
    this.renderReadiness(readiness);
    this.renderAlerts(alerts.items);
    this.renderVitals(vitals.items, record);
  }

  setRow(row) {
    if (row) this.row = row;
  }

  renderHeader(rec) {
    const r = this.row;
    this.header.replaceChildren(
      el("h2", { id: "session-title" }, `${r.patient.name}`, el("span", { class: "muted" }, ` · MRN ${r.patient.mrn}`)),
      el("div", { class: "row" },
        el("div", {}, el("div", { class: "muted" }, "Chair"), r.location || "—"),
        el("div", {}, el("div", { class: "muted" }, "Status"),
          el("span", { class: "status", id: "session-status" }, statusWords(rec.status))),
        el("div", {}, el("div", { class: "muted" }, "Medication"), `${rec.medication} (${rec.route.replace("_", " ")})`),
        el("div", {}, el("div", { class: "muted" }, "Planned dose"), rec.planned_dose_mg != null ? `${rec.planned_dose_mg} mg` : "—"),
        el("div", {}, el("div", { class: "muted" }, "Dosing started"), clockWithZone(rec.dosing_started_at)),
      ));
  }

  renderReadiness(rd) {
    const part = (title, gate, extra) => el("div", {},
      el("h3", {}, title, " — ", gate.ready ? el("span", { class: "badge ready" }, "ready") : "not ready"),
      gate.unmet.length ? unmetList(gate.unmet) : null, extra);
    const earliest = rd.discharge.earliest_at
      || (rd.discharge.unmet.find((u) => u.earliest_at) || {}).earliest_at;
    this.readiness.replaceChildren(...[
      el("h2", { id: "readiness-title" }, "Readiness"),
      part("Dosing", rd.dosing),
      part("Discharge", rd.discharge,
        earliest ? el("p", {}, `Earliest discharge ${clockWithZone(earliest)}`) : null),
      rd.vitals_due_at ? el("p", {}, `Next vitals due ${clockWithZone(rd.vitals_due_at)}`) : null,
    ].filter(Boolean));
  }

  renderAlerts(items) {
    const key = JSON.stringify(items.map((a) => [a.id, a.status]));
    if (key === this.alertsKey) return; // keep a note being typed
    this.alertsKey = key;
    const list = this.alerts.querySelector("#alerts-list");
    if (!items.length) {
      list.replaceChildren(el("p", {}, "No open alerts."));
      return;
    }
    list.replaceChildren(...items.map((a) => {
      const note = el("textarea", { name: "note", rows: 2 });
      const result = el("div", { "aria-live": "polite" });
      const ack = el("form", { "aria-label": `Acknowledge: ${a.message}` },
        ...field(a.severity === "critical"
          ? "Note (required for a critical alert, at least 10 characters)"
          : "Note (optional)", note),
        el("button", { type: "submit" }, "Acknowledge"), result);
      ack.addEventListener("submit", async (e) => {
        e.preventDefault();
        const value = note.value.trim();
        try {
          await post(`/v1/alerts/${a.id}/acknowledge`, value ? { note: value } : {});
          result.replaceChildren(success("Acknowledged."));
          this.alertsKey = null;
          await this.refresh();
        } catch (err) {
          result.replaceChildren(refusal(err));
        }
      });
      return el("div", { class: `alert-item ${a.severity}`, "data-alert": a.id },
        el("div", {}, el("span", { class: `badge ${a.severity}` }, a.severity), ` ${clock(a.created_at)} `),
        el("p", { class: "alert-message" }, a.message), ack);
    }));
  }

  renderVitals(items, record) {
    drawChart(this.chart, items, record, this.row.limits);
    const latest = [...items].sort((x, y) => Date.parse(y.measured_at) - Date.parse(x.measured_at)).slice(0, 12);
    this.readings.replaceChildren(el("table", {},
      el("caption", {}, "Latest readings"),
      el("thead", {}, el("tr", {}, ["Time", "Vital", "Value", "Phase"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", { id: "readings-body" }, latest.map((v) => el("tr", {},
        el("td", { class: "num" }, clock(v.measured_at)),
        el("td", {}, (VITALS[v.code] || { label: v.code }).label),
        el("td", { class: "num" }, `${v.value} ${(VITALS[v.code] || { show: v.unit }).show}`),
        el("td", {}, v.phase))))));
  }

  async afterWrite(message) {
    await this.refresh().catch(() => {});
    return message;
  }

  vitalsForm() {
    const inputs = [
      ["systolic_bp", "Systolic BP (mmHg)"], ["diastolic_bp", "Diastolic BP (mmHg)"],
      ["heart_rate", "Heart rate (/min)"], ["spo2", "SpO2 (%)"],
      ["respiratory_rate", "Respiratory rate (/min)"], ["temperature", "Temperature (°C)"],
    ];
    return form("Record vitals", [
      ...inputs.flatMap(([code, label]) => field(label,
        el("input", { name: code, type: "number", step: "any", inputmode: "decimal" }))),
      ...field("Measured at (empty: now)", el("input", { name: "measured_at", type: "datetime-local" })),
    ], "Record vitals", async (node) => {
      const at = when(node, "measured_at");
      const observations = inputs
        .map(([code]) => [code, num(node, code)])
        .filter(([, v]) => v !== undefined)
        .map(([code, value]) => ({ code, value, unit: VITALS[code].unit, measured_at: at }));
      const answer = await post(`/v1/sessions/${this.id}/vitals`, { observations });
      node.reset();
      return this.afterWrite(`Recorded ${answer.items.length} reading(s).`);
    });
  }

  transitionForm() {
    const to = el("select", { name: "to" }, ["checked_in", "dosing", "monitoring", "discharged", "cancelled", "transferred"]
      .map((s) => el("option", { value: s }, statusWords(s))));
    return form("Move the session", [
      ...field("Move to", to),
      ...field("Weight (kg, at check-in)", el("input", { name: "weight_kg", type: "number", step: "any" })),
      ...field("Reason (cancel, transfer, infusion ended early)", el("input", { name: "reason" })),
      ...field("Override reason (clinicians only, at least 10 characters)", el("textarea", { name: "override_reason", rows: 2 })),
      ...field("At (empty: now)", el("input", { name: "at", type: "datetime-local" })),
    ], "Move", async (node) => {
      const body = compact({
        to: node.querySelector("[name=to]").value,
        weight_kg: num(node, "weight_kg"),
        reason: text(node, "reason"),
        override_reason: text(node, "override_reason"),
        at: optionalWhen(node, "at"),
      });
      const s = await post(`/v1/sessions/${this.id}/transitions`, body);
      return this.afterWrite(`The session is now ${statusWords(s.status)}.`);
    });
  }

  doseForm() {
    return form("Record a dose", [
      ...field("Dose (mg)", el("input", { name: "dose_mg", type: "number", step: "any" })),
      ...field("Devices (esketamine)", el("input", { name: "devices", type: "number", step: "1" })),
      ...field("Lot number", el("input", { name: "lot_number" })),
      ...field("Started at (empty: now)", el("input", { name: "started_at", type: "datetime-local" })),
      ...field("Ended at (optional)", el("input", { name: "ended_at", type: "datetime-local" })),
      ...field("Override reason (clinicians only)", el("input", { name: "override_reason" })),
    ], "Record dose", async (node) => {
      const rec = this.record || {};
      const body = compact({
        medication: rec.medication, route: rec.route,
        dose_mg: num(node, "dose_mg"), devices: num(node, "devices"),
        lot_number: text(node, "lot_number"),
        started_at: when(node, "started_at"), ended_at: optionalWhen(node, "ended_at"),
        override_reason: text(node, "override_reason"),
      });
      await post(`/v1/sessions/${this.id}/administrations`, body);
      return this.afterWrite("Dose recorded.");
    });
  }

  scoreForm() {
    const instrument = el("select", { name: "instrument" }, [["moaas", "MOAA/S (score 0–5)"], ["rass", "RASS (score −5 to +4)"],
      ["cadss", "CADSS (23 items)"], ["phq9", "PHQ-9 (9 items)"], ["gad7", "GAD-7 (7 items)"]]
      .map(([v, l]) => el("option", { value: v }, l)));
    return form("Record a score", [
      ...field("Scale", instrument),
      ...field("Score (MOAA/S, RASS)", el("input", { name: "score", type: "number", step: "1" })),
      ...field("Items, comma-separated (other scales)", el("input", { name: "items" })),
      ...field("Administered at (empty: now)", el("input", { name: "administered_at", type: "datetime-local" })),
    ], "Record score", async (node) => {
      const items = text(node, "items");
      const body = compact({
        instrument: node.querySelector("[name=instrument]").value,
        score: num(node, "score"),
        items: items ? items.split(",").map((x) => Number(x.trim())) : undefined,
        administered_at: when(node, "administered_at"),
      });
      const a = await post(`/v1/sessions/${this.id}/assessments`, body);
      return this.afterWrite(`Recorded: total ${a.total}${a.band ? ` (${a.band})` : ""}.`);
    });
  }

  checklistForm() {
    const test = el("select", { name: "pregnancy_test" }, ["negative", "positive", "not_applicable", "declined"]
      .map((v) => el("option", { value: v }, v.replace("_", " "))));
    return form("Pre-session checklist", [
      ...field("Last food at", el("input", { name: "last_food_at", type: "datetime-local" })),
      ...field("Last liquids at", el("input", { name: "last_liquids_at", type: "datetime-local" })),
      ...field("Escort's name", el("input", { name: "escort_name" })),
      ...field("Escort's phone", el("input", { name: "escort_phone", type: "tel" })),
      el("label", { class: "check" }, el("input", { type: "checkbox", name: "no_driving_acknowledged" }), "No driving today acknowledged"),
      el("label", { class: "check" }, el("input", { type: "checkbox", name: "medication_changes" }), "Medication changes since last session"),
      el("label", { class: "check" }, el("input", { type: "checkbox", name: "consent_confirmed" }), "Consent confirmed"),
      ...field("Pregnancy test", test),
      ...field("Note", el("input", { name: "note" })),
    ], "Save checklist", async (node) => {
      const name = text(node, "escort_name");
      const body = compact({
        last_food_at: optionalWhen(node, "last_food_at"),
        last_liquids_at: optionalWhen(node, "last_liquids_at"),
        escort: name ? compact({ name, phone: text(node, "escort_phone") }) : null,
        no_driving_acknowledged: checked(node, "no_driving_acknowledged"),
        medication_changes: checked(node, "medication_changes"),
        pregnancy_test: node.querySelector("[name=pregnancy_test]").value,
        consent_confirmed: checked(node, "consent_confirmed"),
        note: text(node, "note"),
      });
      await put(`/v1/sessions/${this.id}/checklist`, body);
      return this.afterWrite("Checklist saved.");
    });
  }

  dischargeChecklistForm() {
    return form("Discharge checklist", [
      el("label", { class: "check" }, el("input", { type: "checkbox", name: "dissociation_resolved" }), "Dissociation resolved"),
      el("label", { class: "check" }, el("input", { type: "checkbox", name: "escort_present" }), "Escort present"),
      el("label", { class: "check" }, el("input", { type: "checkbox", name: "instructions_given" }), "Discharge instructions given"),
      ...field("Ready to leave at (empty: now)", el("input", { name: "ready_at", type: "datetime-local" })),
      ...field("Note", el("input", { name: "note" })),
    ], "Save discharge checklist", async (node) => {
      const body = compact({
        dissociation_resolved: checked(node, "dissociation_resolved"),
        escort_present: checked(node, "escort_present"),
        instructions_given: checked(node, "instructions_given"),
        ready_at: when(node, "ready_at"),
        note: text(node, "note"),
      });
      await put(`/v1/sessions/${this.id}/discharge-checklist`, body);
      return this.afterWrite("Discharge checklist saved.");
    });
  }
}
