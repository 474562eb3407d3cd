// Times in the clinic's time zone (the board says which), with the offset.
let zone = undefined;

export function setZone(tz) {
  zone = tz || undefined;
}

export function clock(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone: zone, hour: "2-digit", minute: "2-digit", hour12: false,
  }).format(d);
  return parts;
}

export function clockWithZone(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  const text = new Intl.DateTimeFormat("en-GB", {
    timeZone: zone, hour: "2-digit", minute: "2-digit", hour12: false, timeZoneName: "shortOffset",
  }).format(d);
  return text.replace("GMT", "UTC");
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, "");
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export const VITALS = {
  systolic_bp: { label: "Systolic BP", short: "SYS", unit: "mm[Hg]", show: "mmHg" },
  diastolic_bp: { label: "Diastolic BP", short: "DIA", unit: "mm[Hg]", show: "mmHg" },
  heart_rate: { label: "Heart rate", short: "HR", unit: "/min", show: "/min" },
  spo2: { label: "SpO2", short: "SpO2", unit: "%", show: "%" },
  respiratory_rate: { label: "Respiratory rate", short: "RR", unit: "/min", show: "/min" },
  temperature: { label: "Temperature", short: "Temp", unit: "Cel", show: "°C" },
  etco2: { label: "EtCO2", short: "EtCO2", unit: "mm[Hg]", show: "mmHg" },
  mean_bp: { label: "Mean BP", short: "MAP", unit: "mm[Hg]", show: "mmHg" },
};

export function statusWords(status) {
  return (status || "").replace("_", " ");
}

// A datetime-local input's value (the browser's local time) as RFC 3339 with an offset.
export function localInputToIso(value) {
  if (!value) return undefined;
  return new Date(value).toISOString();
}

export function nowForInput() {
  const d = new Date();
  d.setSeconds(0, 0);
  const local = new Date(d.getTime() - d.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}
