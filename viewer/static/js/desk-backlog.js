// Backlog: GET /worklist/backlog per department and tumour group (filters in the page ask the
// API again), two tables and a chart of open cases per site by age. The tables are the chart's
// text alternative.

import { api, el } from "/static/js/api.js";
import { CHART_COLOURS, drawChart } from "/static/js/charts.js";
import { mountHeader } from "/static/js/header.js";

const $ = (id) => document.getElementById(id);
const departmentFilter = $("department-filter");
const groupFilter = $("tumour-group-filter");
const statusRegion = $("backlog-status");
const errorRegion = $("backlog-error");

const minutes = (value) => value.toLocaleString("en-GB", { maximumFractionDigits: 0 });

function figureCells(row, buckets) {
  return [
    el("td", { class: "number" }, String(row.open_cases)),
    el("td", { class: "number" }, minutes(row.open_minutes)),
    ...buckets.map((bucket) => el("td", { class: "number" }, String(row.cases_by_age[bucket]))),
    el("td", { class: "number" }, String(row.overdue_cases)),
  ];
}

/** The figure columns' headers, the age buckets as the API names them. */
function headerCells(buckets) {
  const number = (text) => el("th", { scope: "col", class: "number" }, text);
  return [
    number("Open cases"),
    number("Open minutes"),
    ...buckets.map((bucket) => number(`${bucket} days`)),
    number("Overdue"),
  ];
}

function setHeaders(table, leading, buckets) {
  const row = table.tHead.rows[0];
  row.replaceChildren(...[...row.cells].slice(0, leading), ...headerCells(buckets));
}

function fillOptions(select, values) {
  if (select.options.length > 1) return; // filled from the first, unfiltered answer
  select.append(...values.map((value) => el("option", { value }, value)));
}

function chartSpec(body) {
  const values = body.departments.flatMap((row) =>
    body.age_buckets.map((bucket, order) => ({
      department: row.department_code,
      age: `${bucket} days`,
      order,
      cases: row.cases_by_age[bucket],
    })),
  );
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    description: "Open cases per department, stacked by age in days",
    width: "container",
    height: 260,
    data: { values },
    mark: { type: "bar" },
    encoding: {
      x: { field: "department", type: "nominal", title: "Department", axis: { labelAngle: 0 } },
      y: { field: "cases", type: "quantitative", title: "Open cases", stack: "zero" },
      color: {
        field: "age",
        type: "ordinal",
        title: "Age",
        sort: body.age_buckets.map((bucket) => `${bucket} days`),
        scale: { range: CHART_COLOURS },
      },
      order: { field: "order", type: "ordinal" },
    },
  };
}

function show(body) {
  const buckets = body.age_buckets;
  setHeaders($("departments-table"), 1, buckets);
  setHeaders($("groups-table"), 2, buckets);
  $("departments-table").tBodies[0].replaceChildren(
    ...body.departments.map((row) =>
      el("tr", {}, el("th", { scope: "row" }, row.department_code), ...figureCells(row, buckets)),
    ),
  );
  $("departments-table").tFoot.replaceChildren(
    el("tr", {}, el("th", { scope: "row" }, "Region"), ...figureCells(body.region, buckets)),
  );
  $("groups-table").tBodies[0].replaceChildren(
    ...body.groups.map((row) =>
      el(
        "tr",
        {},
        el("th", { scope: "row" }, row.department_code),
        el("td", {}, row.tumour_group),
        ...figureCells(row, buckets),
      ),
    ),
  );
  const empty = $("groups-empty");
  empty.hidden = body.groups.length > 0;
  empty.textContent = "No open cases match: every case of this selection is signed out.";
  $("groups-table").hidden = body.groups.length === 0;
  statusRegion.textContent =
    `${body.region.open_cases} open cases, ${body.region.overdue_cases} overdue, as of ` +
    new Date(body.as_of).toLocaleString("en-GB");
}

async function load() {
  errorRegion.textContent = "";
  statusRegion.textContent = "Loading the backlog…";
  const query = new URLSearchParams();
  if (departmentFilter.value) query.set("department_code", departmentFilter.value);
  if (groupFilter.value) query.set("tumour_group", groupFilter.value);
  try {
    const body = await api(`/worklist/backlog?${query}`);
    fillOptions(departmentFilter, body.departments.map((row) => row.department_code));
    fillOptions(groupFilter, [...new Set(body.groups.map((row) => row.tumour_group))].sort());
    show(body);
    await drawChart($("backlog-chart"), chartSpec(body));
  } catch (error) {
    statusRegion.textContent = "";
    errorRegion.textContent = `The backlog could not be shown: ${error.message}`;
  }
}

departmentFilter.addEventListener("change", load);
groupFilter.addEventListener("change", load);

mountHeader("desk-backlog").then(load, (error) => {
  errorRegion.textContent = `The page could not start: ${error.message}`;
});
