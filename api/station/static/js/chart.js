// The vitals chart: readings over time, the plan's limits as dashed lines, the phases shaded.
import uPlot from "../vendor/uplot/uPlot.esm.js";
import { clock } from "./format.js";

const SERIES = [
  { code: "systolic_bp", label: "Systolic", stroke: "#b00020", limits: ["systolic_max"] },
  { code: "diastolic_bp", label: "Diastolic", stroke: "#e07000", limits: ["diastolic_max"] },
  { code: "heart_rate", label: "Heart rate", stroke: "#0b5cad", limits: ["heart_rate_min", "heart_rate_max"] },
  { code: "spo2", label: "SpO2", stroke: "#136f2d", limits: ["spo2_min"] },
];
const PHASE_FILL = { pre: "rgba(11,92,173,0.07)", intra: "rgba(224,112,0,0.14)", post: "rgba(19,111,45,0.08)" };

export function phaseSpans(record, xMin, xMax) {
  const t = (iso) => (iso ? Date.parse(iso) / 1000 : null);
  const start = t(record.dosing_started_at), end = t(record.dosing_ended_at);
  const last = t(record.ended_at) || xMax;
  const spans = [];
  spans.push({ phase: "pre", from: xMin, to: start || last });
  if (start) spans.push({ phase: "intra", from: start, to: end || last });
  if (end) spans.push({ phase: "post", from: end, to: last });
  return spans;
}

export function drawChart(root, readings, record, limits) {
  root.replaceChildren();
  const times = [...new Set(readings.map((r) => Date.parse(r.measured_at) / 1000))].sort((a, b) => a - b);
  if (!times.length) {
    root.textContent = "No readings yet.";
    return null;
  }
  const data = [times];
  for (const s of SERIES) {
    const byTime = new Map(readings.filter((r) => r.code === s.code)
      .map((r) => [Date.parse(r.measured_at) / 1000, r.value]));
    data.push(times.map((x) => (byTime.has(x) ? byTime.get(x) : null)));
  }
  const now = Date.now() / 1000;
  const xMin = Math.min(times[0], record.checked_in_at ? Date.parse(record.checked_in_at) / 1000 : times[0]);
  const xMax = Math.max(times[times.length - 1], record.ended_at ? Date.parse(record.ended_at) / 1000 : now);
  const opts = {
    width: Math.max(320, root.clientWidth || 800),
    height: 320,
    scales: { x: { time: true, range: [xMin - 60, xMax + 60] }, y: { range: [30, 200] } },
    axes: [
      { values: (u, ticks) => ticks.map((x) => clock(new Date(x * 1000).toISOString())), size: 50, font: "16px sans-serif" },
      { font: "16px sans-serif", size: 60 },
    ],
    series: [
      {},
      ...SERIES.map((s) => ({ label: s.label, stroke: s.stroke, width: 3, spanGaps: true,
        points: { show: true, size: 7 } })),
    ],
    legend: { show: false }, // the page draws its own legend above the chart
    hooks: {
      drawClear: [(u) => {
        const ctx = u.ctx;
        for (const span of phaseSpans(record, xMin - 60, xMax + 60)) {
          const x0 = u.valToPos(span.from, "x", true), x1 = u.valToPos(span.to, "x", true);
          ctx.fillStyle = PHASE_FILL[span.phase];
          ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
        }
      }],
      draw: [(u) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.setLineDash([8, 6]);
        ctx.lineWidth = 2;
        for (const s of SERIES) {
          for (const key of s.limits) {
            const value = limits && limits[key];
            if (value == null) continue;
            const y = u.valToPos(value, "y", true);
            ctx.strokeStyle = s.stroke;
            ctx.beginPath();
            ctx.moveTo(u.bbox.left, y);
            ctx.lineTo(u.bbox.left + u.bbox.width, y);
            ctx.stroke();
          }
        }
        ctx.restore();
      }],
    },
  };
  return new uPlot(opts, data, root);
}

export const CHART_SERIES = SERIES;
export const PHASE_COLOURS = PHASE_FILL;
