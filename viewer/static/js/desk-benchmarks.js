// Benchmarks: GET /benchmarks, the latest `make bench` as a chart per benchmark (Coupe beside
// its baseline, a pair of bars per figure, each on its own scale, a dashed line at its target),
// a table of every figure (the charts' text alternative), the machine and date of the run, and the server's live figures,
// asked again every 10 s. Without results the page says how to make them.

import { api, el, formatDateTime } from "/static/js/api.js";
import { CHART_COLOURS, drawChart } from "/static/js/charts.js";
import { mountHeader } from "/static/js/header.js";

const $ = (id) => document.getElementById(id);
const statusRegion = $("benchmarks-status");
const errorRegion = $("benchmarks-error");
const chartsStatus = $("charts-status");

const LOCALE = "en-GB";
const REFRESH_MS = 10_000;
// Asking every 10 s keeps the session in use: after this long without a key or a click the
// page stops asking, so an unattended screen is still signed out when the session idles out.
const PAUSE_AFTER_IDLE_MS = 10 * 60_000;

const SOURCES = [
  ["prebuilt", "Pre-built (from the pyramid)"],
  ["rendered", "Rendered on the fly"],
  ["cache", "From the cache (rendered before)"],
];

const number = (value) =>
  value === null || value === undefined
    ? "—"
    : value.toLocaleString(LOCALE, { maximumSignificantDigits: 4 });
const count = (value) => value.toLocaleString(LOCALE);

/** "1.21× better", "0.82× (the baseline is better)", or "no baseline". */
export function ratioText(figure) {
  if (figure.ratio === null) return "no baseline";
  const times = `${figure.ratio.toLocaleString(LOCALE, { maximumFractionDigits: 2 })}×`;
  return figure.ratio >= 1 ? `${times} better` : `${times} (the baseline is better)`;
}

const betterText = (figure) => (figure.better === "lower" ? "lower is better" : "higher is better");

/** "under 20 ms: met", "over 2,000 tiles/s: not met", or null without a target. */
export function targetText(figure) {
  if (figure.target === null || figure.target === undefined) return null;
  const bound = `${figure.better === "lower" ? "under" : "over"} ${number(figure.target)} ${figure.unit}`;
  if (figure.met === null || figure.met === undefined) return bound;
  return `${bound}: ${figure.met ? "met" : "not met"}`;
}

// -- the run and its figures ------------------------------------------------------------------

function describeRun(results) {
  const { machine } = results;
  $("run-described").textContent =
    `Made ${formatDateTime(results.generated_at)} on ${machine.cpu} ` +
    `(${machine.cpus} CPUs, ${number(machine.memory_gb)} GB memory, Python ${machine.python}); ` +
    `${results.figures.length} figures.`;
}

function figureRow(figure) {
  return el(
    "tr",
    {},
    el("td", {}, figure.benchmark),
    el("th", { scope: "row" }, figure.figure),
    el("td", {}, figure.unit),
    el("td", {}, figure.better),
    el("td", { class: "number" }, number(figure.coupe)),
    el("td", { class: "number" }, number(figure.baseline)),
    el("td", {}, figure.baseline_name ?? "—"),
    el("td", { class: "number" }, ratioText(figure)),
    el("td", {}, targetText(figure) ?? "—"),
    el("td", { class: "number" }, String(figure.runs)),
    el("td", {}, figure.source),
  );
}

/** The benchmarks in the order the file names them first: [[name, figures], ...]. */
function byBenchmark(figures) {
  const groups = new Map();
  for (const figure of figures) {
    if (!groups.has(figure.benchmark)) groups.set(figure.benchmark, []);
    groups.get(figure.benchmark).push(figure);
  }
  return [...groups];
}

/** A benchmark's chart: a row per figure (its heading: unit, which way is better, the ratio),
 * Coupe's bar and the baseline's, each row on its own scale since the units differ. */
export function chartSpec(benchmark, figures) {
  const values = [];
  for (const [order, figure] of figures.entries()) {
    const target = targetText(figure);
    const heading =
      `${figure.figure} (${figure.unit}, ${betterText(figure)}): ${ratioText(figure)}` +
      (target ? `; target ${target}` : "");
    const bar = (contender, role, value) => ({
      order,
      heading,
      contender,
      role,
      value,
      target: figure.target ?? null,
      label: `${number(value)} ${figure.unit}`,
    });
    values.push(bar("Coupe", "Coupe", figure.coupe));
    if (figure.baseline !== null) {
      values.push(bar(figure.baseline_name, "Baseline", figure.baseline));
    }
  }
  // Long baseline names are cut short on the axis; the table has them whole.
  const y = {
    field: "contender",
    type: "nominal",
    title: null,
    sort: null,
    axis: { labelLimit: 240 },
  };
  const x = { field: "value", type: "quantitative", title: null };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    description: `Coupe beside its baseline for each ${benchmark} figure`,
    data: { values },
    facet: {
      row: {
        field: "heading",
        type: "nominal",
        // The file's order (a facet sorts its rows by name unless told otherwise).
        sort: { field: "order", op: "min" },
        title: null,
        header: {
          labelAngle: 0,
          labelOrient: "top",
          labelAnchor: "start",
          labelFontSize: 12,
          labelFontWeight: "bold",
          labelLimit: 0,
        },
      },
    },
    spec: {
      width: 420,
      height: { step: 22 },
      layer: [
        {
          mark: { type: "bar" },
          encoding: {
            y,
            x: { ...x, scale: { zero: true } },
            color: {
              field: "role",
              type: "nominal",
              title: null,
              scale: { domain: ["Coupe", "Baseline"], range: [CHART_COLOURS[0], CHART_COLOURS[2]] },
            },
          },
        },
        {
          mark: { type: "text", align: "left", dx: 4, fontSize: 11 },
          encoding: { y, x, text: { field: "label" } },
        },
        {
          // The target, where the figure has one: a dashed line across both bars.
          mark: { type: "rule", color: CHART_COLOURS[3], strokeDash: [4, 3], strokeWidth: 2 },
          encoding: { x: { field: "target", type: "quantitative" } },
        },
      ],
    },
    resolve: { scale: { x: "independent", y: "independent" } },
  };
}

function chartFigure(benchmark) {
  const container = el("div", { class: "chart-canvas" });
  const figure = el(
    "figure",
    { class: "figure-chart", "data-benchmark": benchmark },
    el("figcaption", {}, `Benchmark: ${benchmark}`),
    el(
      "div",
      {
        class: "chart",
        role: "img",
        "aria-label":
          `Bar chart: Coupe beside its baseline for each ${benchmark} figure. ` +
          "The table “Every figure” below gives the numbers.",
      },
      container,
    ),
  );
  return { figure, container };
}

async function showCharts(results) {
  const groups = byBenchmark(results.figures);
  const drawn = groups.map(([benchmark]) => chartFigure(benchmark));
  $("charts").replaceChildren(...drawn.map((d) => d.figure));
  if (!drawn.length) {
    chartsStatus.textContent = "This run has no figures.";
    return;
  }
  chartsStatus.textContent = "Drawing the charts…";
  for (const [index, [benchmark, figures]] of groups.entries()) {
    await drawChart(drawn[index].container, chartSpec(benchmark, figures));
  }
  chartsStatus.textContent = `${drawn.length} charts drawn.`;
}

let shownRun = null; // the generated_at of the results on the page: charts redrawn on a new run

async function showResults(body) {
  const ready = body.status === "ready" && body.results !== null;
  $("results").hidden = !ready;
  $("no-results").hidden = body.status !== "missing";
  if (body.status === "invalid") {
    // The server's words, as text.
    errorRegion.textContent = `The benchmark results cannot be shown: ${body.message}`;
  } else {
    errorRegion.textContent = "";
  }
  if (body.status === "missing") $("no-results-message").textContent = body.message ?? "";
  if (!ready) {
    shownRun = null;
    statusRegion.textContent =
      body.status === "missing" ? "No benchmark results yet." : "No benchmark results to show.";
    return;
  }
  const { results } = body;
  if (shownRun === results.generated_at) return;
  shownRun = results.generated_at;
  describeRun(results);
  $("figures-table").tBodies[0].replaceChildren(...results.figures.map(figureRow));
  statusRegion.textContent =
    `Results of ${formatDateTime(results.generated_at)}: ${results.figures.length} figures.`;
  await showCharts(results);
}

// -- live figures -----------------------------------------------------------------------------

function latencyRows(latency) {
  const known = new Set(SOURCES.map(([key]) => key));
  const sources = [...SOURCES, ...Object.keys(latency).filter((k) => !known.has(k)).map((k) => [k, k])];
  return sources.map(([key, name]) => {
    const figures = latency[key] ?? { count: 0, p50_ms: null, p90_ms: null, p99_ms: null };
    return el(
      "tr",
      {},
      el("th", { scope: "row" }, name),
      el("td", { class: "number" }, count(figures.count)),
      el("td", { class: "number" }, number(figures.p50_ms)),
      el("td", { class: "number" }, number(figures.p90_ms)),
      el("td", { class: "number" }, number(figures.p99_ms)),
    );
  });
}

function activityRows(live) {
  const rows = [
    ["Tiles served", live.tiles_served],
    ["Tiling jobs finished in the last hour", live.jobs_finished_last_hour],
    ["Tiling jobs failed in the last hour", live.jobs_failed_last_hour],
    ["Tiling jobs queued now", live.jobs_queued],
    ["Tiling jobs running now", live.jobs_running],
  ];
  return rows.map(([name, value]) =>
    el("tr", {}, el("th", { scope: "row" }, name), el("td", { class: "number" }, count(value))),
  );
}

function showLive(live) {
  $("latency-table").tBodies[0].replaceChildren(...latencyRows(live.tile_latency));
  $("activity-table").tBodies[0].replaceChildren(...activityRows(live));
  const time = new Date().toLocaleTimeString(LOCALE);
  $("live-updated").textContent = `Live figures as of ${time}.`;
}

// -- loading and refreshing -------------------------------------------------------------------

let lastActivity = Date.now();
let timer = null;

async function refresh() {
  try {
    const body = await api("/benchmarks");
    showLive(body.live);
    await showResults(body);
  } catch (error) {
    shownRun = null; // shown again in full once the server answers
    statusRegion.textContent = "";
    errorRegion.textContent = `The benchmarks could not be shown: ${error.message}`;
  }
}

function pause() {
  clearInterval(timer);
  timer = null;
  $("live-paused-text").textContent =
    "The live figures are paused: nothing was done on this page for 10 minutes. ";
  $("live-paused").hidden = false;
}

function tick() {
  if (Date.now() - lastActivity > PAUSE_AFTER_IDLE_MS) {
    pause();
    return;
  }
  if (document.visibilityState === "visible") refresh();
}

function startRefreshing() {
  $("live-paused").hidden = true;
  lastActivity = Date.now();
  clearInterval(timer);
  timer = setInterval(tick, REFRESH_MS);
}

for (const kind of ["keydown", "pointerdown", "wheel", "scroll"]) {
  addEventListener(
    kind,
    () => {
      lastActivity = Date.now();
    },
    { passive: true },
  );
}
$("live-resume").addEventListener("click", () => {
  startRefreshing();
  refresh();
});

mountHeader("desk-benchmarks").then(
  async () => {
    await refresh();
    startRefreshing();
  },
  (error) => {
    errorRegion.textContent = `The page could not start: ${error.message}`;
  },
);
