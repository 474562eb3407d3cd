// The day board: every session of the clinic's day, one row per chair.
import { get } from "./api.js";
import { clock, clockWithZone, el, setZone, statusWords, VITALS } from "./format.js";

const SHOWN = ["systolic_bp", "diastolic_bp", "heart_rate", "spo2", "respiratory_rate"];

export async function loadBoard() {
  const board = await get("/v1/board");
  setZone(board.time_zone);
  return board;
}

function vitalsCell(latest) {
  const parts = [];
  const sys = latest.systolic_bp, dia = latest.diastolic_bp;
  if (sys || dia) {
    parts.push(el("div", {}, el("span", { class: "muted" }, "BP "),
      `${sys ? sys.value : "—"}/${dia ? dia.value : "—"}`));
  }
  for (const code of SHOWN.slice(2)) {
    const v = latest[code];
    if (v) parts.push(el("div", {}, el("span", { class: "muted" }, `${VITALS[code].short} `), `${v.value}`));
  }
  return parts.length ? parts : "—";
}

function alertsCell(open) {
  const out = [];
  if (open.critical) out.push(el("span", { class: "badge critical" }, `${open.critical} critical`));
  if (open.warning) out.push(el("span", { class: "badge warning" }, `${open.warning} warning`));
  return out.length ? out : "none";
}

function dischargeCell(d) {
  if (!d) return "—";
  if (d.ready) return el("span", { class: "badge ready" }, "Ready");
  return [
    el("div", {}, d.first_unmet),
    d.unmet_count > 1 ? el("div", { class: "muted" }, `and ${d.unmet_count - 1} more`) : null,
    d.earliest_at ? el("div", { class: "muted" }, `Earliest ${clockWithZone(d.earliest_at)}`) : null,
  ];
}

export function renderBoard(root, board, { onOpen, live }) {
  root.replaceChildren();
  root.classList.toggle("stale-data", !live);
  const caption = el("caption", { id: "board-title" },
    `Sessions on ${board.date}`,
    el("span", { class: "muted" }, ` · as of ${clockWithZone(board.generated_at)}`));
  const head = el("tr", {}, ...["Chair", "Patient", "Status", "Medication", "Since first dose",
    "Latest vitals", "Open alerts", "Discharge", "Vitals due", ""].map((h) => el("th", { scope: "col" }, h)));
  const rows = board.sessions.map((s) =>
    el("tr", { "data-session": s.session_id },
      el("td", { class: "num" }, s.location || "—"),
      el("td", {}, el("div", { class: "patient-name" }, s.patient.name),
        el("div", { class: "mrn" }, `MRN ${s.patient.mrn}`)),
      el("td", {}, el("span", { class: "status" }, statusWords(s.status))),
      el("td", {}, `${s.medication}`, el("div", { class: "muted" },
        s.planned_dose_mg != null ? `${s.planned_dose_mg} mg planned` : "dose at check-in")),
      el("td", { class: "num" }, s.minutes_since_first_dose != null ? `${s.minutes_since_first_dose} min` : "—"),
      el("td", { class: "num" }, vitalsCell(s.latest_vitals)),
      el("td", {}, alertsCell(s.open_alerts)),
      el("td", {}, dischargeCell(s.discharge)),
      el("td", { class: "num" }, s.vitals_due_at ? clock(s.vitals_due_at) : "—"),
      el("td", {}, el("button", {
        type: "button", class: "secondary",
        "aria-label": `Open ${s.patient.name}, ${s.location || "no chair"}`,
        onclick: () => onOpen(s),
      }, "Open")),
    ));
  const table = el("table", {}, caption, el("thead", {}, head),
    el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: 10 }, "No sessions today."))));
  root.append(table);
  if (board.patient_alerts.length) {
    root.append(el("div", { class: "card" },
      el("h2", {}, "Alerts between sessions"),
      el("ul", {}, board.patient_alerts.map((a) =>
        el("li", { class: `alert-item ${a.severity}` },
          el("strong", {}, `${a.patient.name} (MRN ${a.patient.mrn}): `), a.message)))));
  }
}
