// The live dashboard: polls the aggregator's JSON API (/api/run, /api/rounds,
// /api/fairness, /api/clients) every second and renders it. Only the API is read,
// so what the page shows is what any other client of the API sees. Text from the
// server is set as text, never as markup.
"use strict";

const POLL_MILLISECONDS = 1000;
const SVG = "http://www.w3.org/2000/svg";

function byId(id) { return document.getElementById(id); }
function setText(id, text) { byId(id).textContent = String(text); }
function fixed(value, digits) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}
function bytes(value) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = Number(value) || 0, unit = 0;
  while (v >= 1000 && unit < units.length - 1) { v /= 1000; unit++; }
  return v.toFixed(unit === 0 ? 0 : 1) + " " + units[unit];
}
function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}
function definitions(id, pairs) {
  const list = byId(id);
  list.replaceChildren();
  for (const [term, value] of pairs) {
    const div = document.createElement("div");
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = term;
    dd.textContent = value;
    div.append(dt, dd);
    list.appendChild(div);
  }
}

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store", credentials: "same-origin" });
  if (!response.ok) throw new Error(path + ": HTTP " + response.status);
  return response.json();
}

function renderRun(run) {
  setText("run-id", run.run_id);
  setText("run-state", run.stopped_because ? "stopped: " + run.stopped_because : run.state);
  setText("method", run.fairness_method);
  const total = run.training_rounds + (run.final_evaluation ? 1 : 0);
  setText("round-current", run.round.id);
  setText("rounds-total", total);
  setText("rounds-completed", run.completed_rounds);
  byId("rounds-bar").style.width = (total > 0 ? 100 * run.completed_rounds / total : 0) + "%";
  const round = run.round;
  setText("round-selected", round.selected);
  setText("round-training", round.training);
  setText("round-uploaded", round.uploaded);
  setText("round-late", round.late);
  setText("round-refused", round.refused);
  setText("round-dropped", round.dropped);
  setText("round-seconds", fixed(round.seconds, 1) + " s");
  setText("clients-joined", run.clients.joined);
  setText("clients-connected", run.clients.connected);
  setText("updates-rate", fixed(run.throughput.round_updates_per_second, 1));
  setText("bytes-rate", bytes(run.throughput.round_bytes_per_second) + "/s");
  setText("bytes-total", bytes(run.throughput.bytes_received));
  setText("updates-refused", run.throughput.updates_refused);
  const controller = [["λ (next round)", fixed(run.controller.lambda, 4)],
                      ["validation MinMaxGAP", fixed(run.controller.validation_gap, 4)],
                      ["bound", run.bound.description]];
  for (const [name, weight] of Object.entries(run.controller.group_weights)) {
    controller.push(["μ " + name, fixed(weight, 4)]);
  }
  const clientWeights = Object.keys(run.controller.client_weights).length;
  if (clientWeights > 0) controller.push(["client weights ω", clientWeights + " clients"]);
  definitions("controller", controller);
  definitions("privacy", run.privacy.enabled
    ? [["client-level DP", "on"], ["ε spent", fixed(run.privacy.epsilon_spent, 4)],
       ["δ", String(run.privacy.delta)], ["ε covers", run.privacy.covers],
       ["secure aggregation", run.secure_aggregation ? "on" : "off"]]
    : [["client-level DP", "off"], ["secure aggregation", run.secure_aggregation ? "on" : "off"]]);
}

// A line chart of `series` ([{values: [[x, y]...], className}]) with a y range.
function lineChart(id, series, yMin, yMax, rounds) {
  const svg = byId(id);
  svg.replaceChildren();
  const width = 400, height = 160, left = 34, bottom = 18, top = 8, right = 8;
  const xMax = Math.max(1, rounds);
  const x = (v) => left + (width - left - right) * (v - 1) / Math.max(1, xMax - 1);
  const y = (v) => top + (height - top - bottom) * (1 - (v - yMin) / Math.max(1e-12, yMax - yMin));
  const axis = document.createElementNS(SVG, "path");
  axis.setAttribute("d", `M${left},${top} V${height - bottom} H${width - right}`);
  axis.setAttribute("class", "axis");
  svg.appendChild(axis);
  for (const [value, anchor] of [[yMax, top + 8], [yMin, height - bottom]]) {
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", 2);
    label.setAttribute("y", anchor);
    label.setAttribute("class", "label");
    label.textContent = value.toFixed(2);
    svg.appendChild(label);
  }
  const last = document.createElementNS(SVG, "text");
  last.setAttribute("x", width - right - 40);
  last.setAttribute("y", height - 4);
  last.setAttribute("class", "label");
  last.textContent = "round " + xMax;
  svg.appendChild(last);
  for (const line of series) {
    const points = line.values.filter(([, v]) => v !== null && v !== undefined);
    if (points.length === 0) continue;
    const polyline = document.createElementNS(SVG, "polyline");
    polyline.setAttribute("points", points.map(([r, v]) => `${x(r)},${y(v)}`).join(" "));
    polyline.setAttribute("class", line.className);
    svg.appendChild(polyline);
  }
}

// `bound`: ε of a bound on the loss gap, drawn on the MinMaxGAP chart; null for a
// bound on another metric (its unit is not the chart's).
function renderRounds(rounds, bound) {
  const training = rounds.filter((r) => !r.final_evaluation);
  const count = training.length > 0 ? training[training.length - 1].round : 1;
  lineChart("accuracy-chart", [
    { values: training.map((r) => [r.round, r.accuracy]), className: "series-accuracy" },
    { values: training.map((r) => [r.round, r.worst_group_accuracy]), className: "series-worst" },
  ], 0, 1, count);
  const gaps = training.map((r) => r.minmax_gap).filter((v) => v !== null);
  const top = Math.max(bound === null ? 0 : bound * 1.2, ...gaps, 0.05);
  lineChart("gap-chart", [
    { values: training.map((r) => [r.round, r.minmax_gap]), className: "series-gap" },
    { values: training.length > 0 && bound !== null ? [[1, bound], [count, bound]] : [],
      className: "series-bound" },
  ], 0, top, count);
}

function renderFairness(fairness) {
  const body = byId("gap-table").tBodies[0];
  body.replaceChildren();
  if (!fairness) {
    setText("fairness-round", "");
    setText("fairness-bound", "No round has closed yet.");
    setText("fairness-floor", "");
    setText("fairness-chosen", "");
    setText("fairness-note", "");
    return;
  }
  setText("fairness-round", `round ${fairness.round}, ${fairness.split} split`);
  const bounds = fairness.minmax_gap_bounds;
  setText("fairness-bound",
    `MinMaxGAP ${fixed(fairness.minmax_gap, 4)} nats in ${fairness.minmax_gap_cell.language || "–"}/` +
    `${fairness.minmax_gap_cell.modality} (bias-corrected ${fixed(bounds.bias_corrected, 4)}, ` +
    `interval [${fixed(bounds.lower, 4)}, ${fixed(bounds.upper, 4)}]); bound ` +
    `${fairness.bound.description}: ${fairness.bound_verdict}`);
  setText("fairness-floor", fairness.feasibility
    ? `Against the gap's floor: ${fairness.feasibility.text}` : "");
  setText("fairness-chosen", fairness.chosen
    ? `Model chosen so far: ${fairness.chosen.reason}` : "");
  for (const row of fairness.cells) {
    const tr = document.createElement("tr");
    tr.dataset.cell = `${row.language}/${row.modality}/${row.client}`;
    cell(tr, row.language || "–");
    cell(tr, row.modality);
    cell(tr, row.client || "all");
    const loss = row.loss_gap_bounds;
    cell(tr, fixed(row.loss_gap, 4) +
             (loss ? ` [${fixed(loss.lower, 4)}, ${fixed(loss.upper, 4)}]` : ""), "number");
    cell(tr, row.bound_status, row.bound_status);
    const gap = row.accuracy_gap;
    cell(tr, gap ? `${fixed(100 * gap.value, 1)} pts [${fixed(100 * gap.lower, 1)}, ` +
                   `${fixed(100 * gap.upper, 1)}] ${gap.best_group} vs ${gap.worst_group}` : "–");
    const groups = Object.entries(row.groups).map(([name, g]) =>
      `${name}: ${g.count}, ${fixed(g.mean_loss, 3)}` +
      (g.accuracy ? `, ${fixed(100 * g.accuracy.value, 1)}% [${fixed(100 * g.accuracy.lower, 1)}, ` +
                    `${fixed(100 * g.accuracy.upper, 1)}]` : ""));
    cell(tr, groups.join("; "));
    body.appendChild(tr);
  }
  setText("fairness-note", `${Math.round(100 * fairness.confidence)}% intervals. ` +
                           fairness.interval_note);
}

function renderClients(clients) {
  const body = byId("client-table").tBodies[0];
  body.replaceChildren();
  setText("clients-shown", clients.shown < clients.total
    ? `(${clients.shown} of ${clients.total}: most failures first)` : `(${clients.total})`);
  for (const client of clients.clients) {
    const tr = document.createElement("tr");
    cell(tr, client.id);
    const ago = Math.max(0, (clients.now_unix_ms - client.last_seen_unix_ms) / 1000);
    cell(tr, ago < 1 ? "now" : `${ago.toFixed(0)} s ago`);
    cell(tr, client.rounds_selected, "number");
    cell(tr, client.rounds_contributed, "number");
    cell(tr, client.failures, client.failures > 0 ? "number over" : "number");
    cell(tr, client.last_failure || "");
    body.appendChild(tr);
  }
}

async function refresh() {
  try {
    const [run, rounds, fairness, clients] = await Promise.all([
      getJson("/api/run"), getJson("/api/rounds"), getJson("/api/fairness"),
      getJson("/api/clients")]);
    renderRun(run);
    renderRounds(rounds, run.bound.metric === "loss_gap" ? run.bound.epsilon : null);
    renderFairness(fairness);
    renderClients(clients);
    byId("error").hidden = true;
  } catch (error) {
    byId("error").textContent = "Cannot reach the aggregator: " + error.message;
    byId("error").hidden = false;
  }
}

refresh();
setInterval(refresh, POLL_MILLISECONDS);
