// Load today: GET /pathologists/load?date= per pathologist and department, a chart of the
// relative load per pathologist (the tables are its text alternative), another day on request.

import { api, el } from "/static/js/api.js";
import { drawChart } from "/static/js/charts.js";
import { mountHeader } from "/static/js/header.js";

const $ = (id) => document.getElementById(id);
const dayInput = $("load-day");
const departmentFilter = $("department-filter");
const statusRegion = $("load-status");
const errorRegion = $("load-error");

const minutes = (value) => value.toLocaleString("en-GB", { maximumFractionDigits: 0 });
const percent = (ratio) => (ratio === null ? "—" : `${Math.round(ratio * 100)}%`);

function loadCell(ratio) {
  // Past capacity says so in words too, not by colour alone.
  const over = ratio !== null && ratio > 1;
  return el(
    "td",
    { class: over ? "number over-capacity" : "number" },
    percent(ratio),
    over ? " (over capacity)" : null,
  );
}

function figureCells(row) {
  return [
    el("td", { class: "number" }, minutes(row.capacity_minutes)),
    el("td", { class: "number" }, minutes(row.open_minutes)),
    el("td", { class: "number" }, minutes(row.assigned_today_minutes)),
    loadCell(row.load_ratio),
  ];
}

function departmentRow(row, name) {
  return el(
    "tr",
    {},
    el("th", { scope: "row" }, name),
    el("td", { class: "number" }, String(row.headcount)),
    el("td", { class: "number" }, String(row.present)),
    ...figureCells(row),
  );
}

function pathologistRow(person) {
  return el(
    "tr",
    { class: person.present ? null : "absent" },
    el("th", { scope: "row" }, `${person.name} (${person.code})`),
    el("td", {}, person.department_code),
    el("td", {}, person.present ? "Present" : `Absent: ${person.absent_because}`),
    ...figureCells(person),
    el("td", {}, person.subspecialties.join(", ")),
  );
}

function chartSpec(body) {
  const values = body.pathologists.map((person) => ({
    pathologist: person.code,
    department: person.department_code,
    load: person.load_ratio === null ? 0 : Math.round(person.load_ratio * 100),
    state: person.present ? "present" : "absent",
  }));
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    description: "Relative load per pathologist in percent of the day's capacity",
    width: { step: 18 },
    height: 240,
    data: { values },
    layer: [
      {
        mark: { type: "bar" },
        encoding: {
          x: { field: "pathologist", type: "nominal", title: "Pathologist", sort: null },
          y: { field: "load", type: "quantitative", title: "Relative load (%)" },
          color: {
            field: "department",
            type: "nominal",
            title: "Department",
            scale: { scheme: "tableau10" },
          },
        },
      },
      {
        mark: { type: "rule", color: "#a4161a", strokeDash: [4, 3] },
        encoding: { y: { datum: 100 } },
      },
    ],
  };
}

function fillDepartments(body) {
  if (departmentFilter.options.length > 1) return;
  departmentFilter.append(
    ...body.departments.map((row) =>
      el("option", { value: row.department_code }, row.department_code),
    ),
  );
}

function show(body) {
  $("departments-table").tBodies[0].replaceChildren(
    ...body.departments.map((row) => departmentRow(row, row.department_code)),
  );
  $("departments-table").tFoot.replaceChildren(departmentRow(body.region, "Region"));
  $("pathologists-table").tBodies[0].replaceChildren(...body.pathologists.map(pathologistRow));
  $("pathologists-empty").hidden = body.pathologists.length > 0;
  const day = new Date(`${body.date}T12:00:00`).toLocaleDateString("en-GB", {
    weekday: "long",
    day: "numeric",
    month: "long",
    year: "numeric",
  });
  statusRegion.textContent =
    `${day}: ${body.region.present} of ${body.region.headcount} pathologists present, ` +
    `relative load ${percent(body.region.load_ratio)}`;
}

async function load() {
  errorRegion.textContent = "";
  statusRegion.textContent = "Loading the load…";
  const query = new URLSearchParams();
  if (dayInput.value) query.set("date", dayInput.value);
  if (departmentFilter.value) query.set("department_code", departmentFilter.value);
  try {
    const body = await api(`/pathologists/load?${query}`);
    dayInput.value = body.date;
    fillDepartments(body);
    show(body);
    await drawChart($("load-chart"), chartSpec(body));
  } catch (error) {
    statusRegion.textContent = "";
    errorRegion.textContent = `The load could not be shown: ${error.message}`;
  }
}

$("load-form").addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});

mountHeader("desk-load").then(load, (error) => {
  errorRegion.textContent = `The page could not start: ${error.message}`;
});
