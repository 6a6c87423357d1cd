// Capacity reports: GET /reports/capacity for the chosen period (and department), its headline
// figures as tables (realisation, norm and forecast of every metric), the written summary, the
// charts from GET /reports/capacity/charts (the same Vega-Lite definitions the HTML report
// draws) and the report's files to download. A report takes a few seconds: the page says so.

import { api, el } from "/static/js/api.js";
import { drawChart } from "/static/js/charts.js";
import { mountHeader } from "/static/js/header.js";

const $ = (id) => document.getElementById(id);
const form = $("report-form");
const kindSelect = $("period-kind");
const periodSelect = $("period");
const departmentFilter = $("department-filter");
const submitButton = $("show-report");
const statusRegion = $("report-status");
const errorRegion = $("report-error");
const reportArea = $("report");
const chartsStatus = $("charts-status");

const LOCALE = "en-GB";
const DAY_MS = 86_400_000;

// -- periods ----------------------------------------------------------------------------------

/** A UTC midnight for the local calendar day of `when` (period arithmetic without DST). */
function utcDay(when) {
  return new Date(Date.UTC(when.getFullYear(), when.getMonth(), when.getDate()));
}

/** The ISO week of `day` (a UTC midnight): {year, week, monday}. */
function isoWeek(day) {
  const weekday = (day.getUTCDay() + 6) % 7; // Monday 0
  const monday = new Date(day.getTime() - weekday * DAY_MS);
  const thursday = new Date(monday.getTime() + 3 * DAY_MS);
  const year = thursday.getUTCFullYear();
  // Week 1 is the one that holds 4 January.
  const january4 = new Date(Date.UTC(year, 0, 4));
  const firstMonday = january4.getTime() - ((january4.getUTCDay() + 6) % 7) * DAY_MS;
  const week = 1 + Math.round((monday.getTime() - firstMonday) / (7 * DAY_MS));
  return { year, week, monday };
}

const pad = (n) => String(n).padStart(2, "0");
const shortDate = (day) =>
  day.toLocaleDateString(LOCALE, { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });

/** The periods offered for `kind`, newest first: [{label, text}], the current one included. */
export function periodsOf(kind, today = utcDay(new Date())) {
  const periods = [];
  if (kind === "week") {
    const { monday } = isoWeek(today);
    for (let i = 0; i < 53; i += 1) {
      const start = new Date(monday.getTime() - i * 7 * DAY_MS);
      const { year, week } = isoWeek(start);
      const end = new Date(start.getTime() + 6 * DAY_MS);
      const note = i === 0 ? ", this week so far" : "";
      periods.push({
        label: `${year}-W${pad(week)}`,
        text: `${year}-W${pad(week)} (${shortDate(start)} – ${shortDate(end)}${note})`,
      });
    }
  } else if (kind === "month") {
    for (let i = 0; i < 24; i += 1) {
      const first = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - i, 1));
      const name = first.toLocaleDateString(LOCALE, { month: "long", year: "numeric", timeZone: "UTC" });
      const label = `${first.getUTCFullYear()}-${pad(first.getUTCMonth() + 1)}`;
      periods.push({ label, text: `${label} (${name}${i === 0 ? ", so far" : ""})` });
    }
  } else {
    const quarter = Math.floor(today.getUTCMonth() / 3);
    for (let i = 0; i < 8; i += 1) {
      const index = today.getUTCFullYear() * 4 + quarter - i;
      const label = `${Math.floor(index / 4)}-Q${(index % 4) + 1}`;
      periods.push({ label, text: `${label}${i === 0 ? " (so far)" : ""}` });
    }
  }
  return periods;
}

/** "2026-W47: 16 Nov 2026 – 22 Nov 2026, made on 2 Dec 2026" from the report's own dates. */
function describePeriod(report) {
  const day = (iso) => shortDate(new Date(`${iso}T00:00:00Z`));
  const last = new Date(new Date(`${report.period.stop}T00:00:00Z`).getTime() - DAY_MS);
  return (
    `${report.period.label}: ${day(report.period.start)} – ${shortDate(last)}, ` +
    `made on ${day(report.today)}`
  );
}

/** The default period of `kind`: the last full one (last week, last month, last quarter). */
const lastFull = (kind) => periodsOf(kind)[1].label;

function kindOf(label) {
  if (/^\d{4}-W\d{2}$/.test(label)) return "week";
  if (/^\d{4}-Q\d$/.test(label)) return "quarter";
  return "month";
}

function fillPeriods(kind, chosen) {
  const periods = periodsOf(kind);
  periodSelect.replaceChildren(
    ...periods.map((p) => el("option", { value: p.label, selected: p.label === chosen }, p.text)),
  );
  if (!periods.some((p) => p.label === chosen)) {
    // A period from the address that the list does not offer: offered too.
    periodSelect.prepend(el("option", { value: chosen, selected: true }, chosen));
  }
}

// -- the figures ------------------------------------------------------------------------------

const number = (digits) => (value) =>
  value.toLocaleString(LOCALE, { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ratioAsPercent = (value) => `${(value * 100).toLocaleString(LOCALE, { maximumFractionDigits: 0 })}%`;
const asPercent = (value) => `${value.toLocaleString(LOCALE, { maximumFractionDigits: 1 })}%`;

/** The metrics in the order the tables show them: [key, heading with its unit, format]. */
const METRICS = [
  ["demand_minutes", "Demand (workload minutes)", number(0)],
  ["demand_cases", "Demand (cases)", number(0)],
  ["supply_minutes", "Supply (minutes)", number(0)],
  ["signed_out_minutes", "Signed out (workload minutes)", number(0)],
  ["utilisation", "Utilisation (% of supply)", ratioAsPercent],
  ["balance_gini", "Balance across staff (Gini, 0 = equal)", number(2)],
  ["wip_cases", "Work in progress (cases)", number(0)],
  ["wip_minutes", "Work in progress (workload minutes)", number(0)],
  ["backlog_days", "Backlog (days of supply)", number(1)],
  ["overdue_cases", "Overdue (cases)", number(0)],
  ["tat_median_days", "Turnaround, median (days)", number(1)],
  ["tat_p80_days", "Turnaround, 80th percentile (days)", number(1)],
  ["tat_p90_days", "Turnaround, 90th percentile (days)", number(1)],
  ["pct_within_7_days", "Signed out within 7 days (%)", asPercent],
  ["pct_within_10_days", "Signed out within 10 days (%)", asPercent],
  ["pct_within_target", "Signed out within target (%)", asPercent],
  ["shortfall_fte", "Shortfall (FTE; negative: spare)", number(1)],
];

const isMetric = (value) =>
  value !== null && typeof value === "object" && "realisation" in value && "norm" in value;

function cell(value, format) {
  return el("td", { class: "number" }, value === null || value === undefined ? "—" : format(value));
}

/** One entity's table: a row per metric, with its realisation, norm and forecast. */
function entityTable(entity, caption) {
  const known = new Set(METRICS.map(([key]) => key));
  // A metric a newer report adds is shown too, under its own name.
  const extra = Object.keys(entity)
    .filter((key) => !known.has(key) && isMetric(entity[key]))
    .map((key) => [key, key.replaceAll("_", " "), number(1)]);
  const rows = [...METRICS, ...extra]
    .filter(([key]) => isMetric(entity[key]))
    .map(([key, heading, format]) =>
      el(
        "tr",
        {},
        el("th", { scope: "row" }, heading),
        cell(entity[key].realisation, format),
        cell(entity[key].norm, format),
        cell(entity[key].forecast, format),
      ),
    );
  const head = el(
    "tr",
    {},
    el("th", { scope: "col" }, "Metric (unit)"),
    el("th", { scope: "col", class: "number" }, "Realisation"),
    el("th", { scope: "col", class: "number" }, "Norm"),
    el("th", { scope: "col", class: "number" }, "Forecast"),
  );
  return el(
    "div",
    { class: "table-scroll headline-table", tabindex: "0", role: "region", "aria-label": caption },
    el("table", {}, el("caption", {}, caption), el("thead", {}, head), el("tbody", {}, rows)),
  );
}

function showHeadlines(report, narrowed) {
  const region = report.region;
  // Narrowed to one department, the report's "region" is that department: shown once, as it.
  const tables = narrowed ? [] : [entityTable(region, `Region: ${region.name}`)];
  for (const department of report.departments) {
    tables.push(entityTable(department, `${department.code}: ${department.name}`));
  }
  $("headline-tables").replaceChildren(...tables);
}

/** The tumour groups side by side: [heading, metric, which of its three, format]. */
const GROUP_COLUMNS = [
  ["Demand, realisation (min)", "demand_minutes", "realisation", number(0)],
  ["Demand, norm (min)", "demand_minutes", "norm", number(0)],
  ["Demand, forecast (min)", "demand_minutes", "forecast", number(0)],
  ["Supply (min)", "supply_minutes", "realisation", number(0)],
  ["Turnaround P80 (days)", "tat_p80_days", "realisation", number(1)],
  ["Within target (%)", "pct_within_target", "realisation", asPercent],
  ["Shortfall (FTE)", "shortfall_fte", "realisation", number(1)],
  ["Shortfall, forecast (FTE)", "shortfall_fte", "forecast", number(1)],
];

function showTumourGroups(report) {
  const table = $("groups-table");
  table.tHead.replaceChildren(
    el(
      "tr",
      {},
      el("th", { scope: "col" }, "Tumour group"),
      GROUP_COLUMNS.map(([heading]) => el("th", { scope: "col", class: "number" }, heading)),
    ),
  );
  table.tBodies[0].replaceChildren(
    ...report.tumour_groups.map((group) =>
      el(
        "tr",
        {},
        el("th", { scope: "row" }, group.name),
        GROUP_COLUMNS.map(([, key, which, format]) => cell(group[key]?.[which], format)),
      ),
    ),
  );
  $("groups-empty").hidden = report.tumour_groups.length > 0;
}

function showSummary(report) {
  const lines = report.summary.length ? report.summary : ["Nothing stands out in this period."];
  // Text, never HTML: the sentences are the server's, but shown as they are written.
  $("summary").replaceChildren(...lines.map((line) => el("li", {}, line)));
  $("forecast-method").textContent = report.forecast_method
    ? `Forecast: ${report.forecast_method}.`
    : "";
}

// -- charts -----------------------------------------------------------------------------------

/** The spec's own title ({text, subtitle} or text): the figure's caption says it instead. */
function withoutTitle(spec) {
  const { title, ...rest } = spec;
  const subtitle = title && typeof title === "object" && title.subtitle ? [title.subtitle] : [];
  return { spec: rest, subtitle: subtitle.flat().join(" ") };
}

function chartFigure(chart) {
  const container = el("div", { class: "chart-canvas" });
  const { subtitle } = withoutTitle(chart.spec);
  const description =
    typeof chart.spec.description === "string" && chart.spec.description
      ? chart.spec.description
      : chart.title;
  const figure = el(
    "figure",
    { class: "figure-chart", "data-chart": chart.name },
    el(
      "figcaption",
      {},
      chart.title,
      subtitle ? el("span", { class: "chart-subtitle" }, ` (${subtitle})`) : null,
    ),
    el(
      "div",
      {
        class: "chart",
        role: "img",
        "aria-label": `${description}. The headline tables above give the figures.`,
      },
      container,
    ),
  );
  return { figure, container };
}

async function showCharts(body) {
  const drawn = body.charts.map(chartFigure);
  $("charts").replaceChildren(...drawn.map((d) => d.figure));
  if (!drawn.length) {
    chartsStatus.textContent = "This report has no charts.";
    return;
  }
  // One at a time: each chart's data is inline; drawing them together gains nothing.
  for (const [index, { container }] of drawn.entries()) {
    await drawChart(container, withoutTitle(body.charts[index].spec).spec);
  }
  chartsStatus.textContent = `${drawn.length} charts drawn.`;
}

// -- loading ----------------------------------------------------------------------------------

function query() {
  const params = new URLSearchParams({ period: periodSelect.value });
  if (departmentFilter.value) params.set("department_code", departmentFilter.value);
  return params;
}

function showDownloads(params) {
  const files = [
    ["html", "HTML report (one file, opens offline)"],
    ["xlsx", "Spreadsheet (XLSX, a sheet per view)"],
    ["csv", "Tables (CSV)"],
    ["json", "Data (JSON)"],
  ];
  $("downloads").replaceChildren(
    ...files.map(([format, text]) => {
      const link = new URLSearchParams(params);
      link.set("format", format);
      return el("li", {}, el("a", { href: `/reports/capacity/export?${link}`, download: "" }, text));
    }),
  );
}

function fillDepartments(report) {
  // The departments the caller may see, as the answers name them (the first is unnarrowed).
  for (const department of report.departments) {
    const text = `${department.code}: ${department.name}`;
    const known = [...departmentFilter.options].find((o) => o.value === department.code);
    if (known) known.textContent = text;
    else departmentFilter.append(el("option", { value: department.code }, text));
  }
}

let latest = 0;

async function load() {
  const ticket = ++latest; // an answer to an older request is dropped
  const params = query();
  history.replaceState(null, "", `?${params}`);
  errorRegion.textContent = "";
  chartsStatus.textContent = "";
  submitButton.disabled = true;
  reportArea.setAttribute("aria-busy", "true");
  statusRegion.textContent =
    `Preparing the report for ${params.get("period")}… this takes a few seconds.`;
  // Both at once: each answer is computed from the same database on its own worker.
  const charts = api(`/reports/capacity/charts?${params}`);
  charts.catch(() => {}); // reported below, once the report itself has been shown
  try {
    const report = await api(`/reports/capacity?${params}`);
    if (ticket !== latest) return;
    fillDepartments(report);
    showSummary(report);
    showHeadlines(report, Boolean(params.get("department_code")));
    showTumourGroups(report);
    showDownloads(params);
    reportArea.hidden = false;
    statusRegion.textContent = `Report for ${describePeriod(report)}.`;
    chartsStatus.textContent = "Drawing the charts…";
    const body = await charts;
    if (ticket !== latest) return;
    await showCharts(body);
  } catch (error) {
    if (ticket !== latest) return;
    statusRegion.textContent = "";
    chartsStatus.textContent = "";
    errorRegion.textContent = `The report could not be shown: ${error.message}`;
  } finally {
    if (ticket === latest) {
      submitButton.disabled = false;
      reportArea.removeAttribute("aria-busy");
    }
  }
}

function start() {
  const asked = new URLSearchParams(location.search);
  const period = asked.get("period") || lastFull("week");
  kindSelect.value = kindOf(period);
  fillPeriods(kindSelect.value, period);
  const department = asked.get("department_code");
  if (department) {
    departmentFilter.append(el("option", { value: department, selected: true }, department));
  }
  load();
}

kindSelect.addEventListener("change", () => fillPeriods(kindSelect.value, lastFull(kindSelect.value)));
form.addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});

mountHeader("desk-reports").then(start, (error) => {
  errorRegion.textContent = `The page could not start: ${error.message}`;
});
