// Rosters and absences (lab managers and admins): pick a pathologist, set their working days
// (PATCH /pathologists/{code}), list, add and remove their absences
// (GET/POST/DELETE /pathologists/{code}/absences). Whether they work today comes with the list.

import { api, el } from "/static/js/api.js";
import { mountHeader } from "/static/js/header.js";

const PAGE_LIMIT = 200;
const WEEKDAYS = [
  ["mon", "Monday"],
  ["tue", "Tuesday"],
  ["wed", "Wednesday"],
  ["thu", "Thursday"],
  ["fri", "Friday"],
  ["sat", "Saturday"],
  ["sun", "Sunday"],
];
const KIND_NAMES = { leave: "Leave", sickness: "Sickness", course: "Course", other: "Other" };

const $ = (id) => document.getElementById(id);
const picker = $("pathologist");
const status = $("rosters-status");
const errorRegion = $("rosters-error");

function showError(error) {
  errorRegion.textContent = error.message || String(error);
}

function today() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

async function allPathologists() {
  const items = [];
  let cursor = null;
  do {
    const query = `limit=${PAGE_LIMIT}` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
    const page = await api(`/pathologists?${query}`);
    items.push(...page.items);
    cursor = page.next;
  } while (cursor);
  return items;
}

function renderDays(workingDays) {
  const chosen = new Set(workingDays);
  $("days").replaceChildren(
    ...WEEKDAYS.map(([value, name]) =>
      el(
        "label",
        { class: "checkbox" },
        el("input", { type: "checkbox", name: "day", value, checked: chosen.has(value) }),
        ` ${name}`,
      ),
    ),
  );
}

function renderAbsences(list) {
  const name = picker.selectedOptions[0]?.textContent || list.pathologist_code;
  $("today").textContent = list.present
    ? `${name} works today.`
    : `${name} is not working today: ${list.why_absent}.`;
  const rows = list.absences.map((absence) => {
    const label = `${absence.starts_on} to ${absence.ends_on}`;
    const remove = el(
      "button",
      {
        type: "button",
        "aria-label": `Remove absence ${label}`,
        onclick: () => removeAbsence(list.pathologist_code, absence, remove),
      },
      "Remove",
    );
    return el(
      "tr",
      {},
      el("td", {}, absence.starts_on),
      el("td", {}, absence.ends_on),
      el("td", {}, KIND_NAMES[absence.kind] || absence.kind),
      el("td", {}, remove),
    );
  });
  $("absences-body").replaceChildren(...rows);
  $("absences-table").hidden = rows.length === 0;
  const empty = $("absences-empty");
  empty.hidden = rows.length > 0;
  empty.textContent = `No absences entered for ${name}. Add leave, sickness or a course below.`;
}

async function load(code) {
  errorRegion.textContent = "";
  status.textContent = `Loading the roster of ${code}…`;
  try {
    const [person, list] = await Promise.all([
      api(`/pathologists/${encodeURIComponent(code)}`),
      api(`/pathologists/${encodeURIComponent(code)}/absences?on=${today()}`),
    ]);
    renderDays(person.working_days);
    renderAbsences(list);
    $("roster").hidden = false;
    status.textContent = "";
  } catch (error) {
    status.textContent = "";
    showError(error);
  }
}

async function removeAbsence(code, absence, button) {
  button.disabled = true;
  try {
    await api(`/pathologists/${encodeURIComponent(code)}/absences/${absence.id}`, {
      method: "DELETE",
    });
    $("absence-result").textContent =
      `Removed the absence ${absence.starts_on} to ${absence.ends_on}.`;
    await load(code);
  } catch (error) {
    button.disabled = false;
    showError(error);
  }
}

$("days-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  errorRegion.textContent = "";
  const days = [...document.querySelectorAll('input[name="day"]:checked')].map((b) => b.value);
  if (days.length === 0) {
    errorRegion.textContent = "Choose at least one working day.";
    return;
  }
  const button = event.submitter;
  button.disabled = true;
  try {
    await api(`/pathologists/${encodeURIComponent(picker.value)}`, {
      method: "PATCH",
      body: { working_days: days },
    });
    $("days-result").textContent = "Working days saved.";
    await load(picker.value);
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
});

$("absence-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  errorRegion.textContent = "";
  const body = {
    starts_on: $("starts-on").value,
    ends_on: $("ends-on").value,
    kind: $("kind").value,
  };
  if (body.ends_on < body.starts_on) {
    errorRegion.textContent = "The absence cannot end before it starts.";
    return;
  }
  const button = event.submitter;
  button.disabled = true;
  try {
    await api(`/pathologists/${encodeURIComponent(picker.value)}/absences`, {
      method: "POST",
      body,
    });
    $("absence-result").textContent =
      `Added ${KIND_NAMES[body.kind].toLowerCase()} from ${body.starts_on} to ${body.ends_on}.`;
    await load(picker.value);
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
});

picker.addEventListener("change", () => {
  history.replaceState(null, "", `?code=${encodeURIComponent(picker.value)}`);
  load(picker.value);
});

async function start() {
  await mountHeader("desk-rosters");
  try {
    const people = await allPathologists();
    if (people.length === 0) {
      status.textContent =
        "No pathologists yet: load the region with `coupe region import FILE.toml`.";
      return;
    }
    picker.replaceChildren(
      ...people.map((p) => el("option", { value: p.code }, `${p.name} (${p.code})`)),
    );
    const wanted = new URLSearchParams(location.search).get("code");
    if (wanted && people.some((p) => p.code === wanted)) picker.value = wanted;
    picker.disabled = false;
    $("starts-on").value = today();
    $("ends-on").value = today();
    await load(picker.value);
  } catch (error) {
    status.textContent = "";
    showError(error);
  }
}

start();
