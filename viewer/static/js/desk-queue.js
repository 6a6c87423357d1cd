// The regional queue (lab managers and admins): the region's open cases from
// GET /worklist/queue, filtered and sorted by the API, a page at a time ("Show more cases");
// who has each, overdue flagged, and for an unassigned case why the last assignment round
// left it unplaced. "Reassign" / "Assign" opens a dialog: the new pathologist, a required
// reason (POST /cases/{id}/reassign or /assign), and when the case lies outside that
// pathologist's subspecialties an explicit confirmation (confirm_outside_subspecialty).

import { api, el, formatDateTime } from "/static/js/api.js";
import { mountHeader } from "/static/js/header.js";

const PAGE_LIMIT = 100;
const DESK_ROLES = new Set(["lab_manager", "admin"]);

const PRIORITY_NAMES = {
  frozen: "Frozen section",
  urgent: "Urgent",
  cancer_pathway: "Cancer pathway",
  routine: "Routine",
};
const STATUS_NAMES = {
  received: "Received",
  scanned: "Scanned",
  assigned: "Assigned",
  in_review: "In review",
  consult_pending: "Consult pending",
};

const $ = (id) => document.getElementById(id);
const errorRegion = $("queue-error");
const statusRegion = $("queue-status");
const resultRegion = $("queue-result");
const table = $("queue-table");
const dialog = $("move-dialog");

let pathologists = []; // GET /pathologists: code, name, department_code, subspecialties
let shown = []; // the queue items on the page, in the API's order
let nextCursor = null;
let total = 0;
let moving = null; // the queue item the dialog moves

/** Every item of a list, following `next` page by page. */
async function allItems(path) {
  const items = [];
  let cursor = null;
  do {
    const query = `?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const page = await api(path + query);
    items.push(...page.items);
    cursor = page.next;
  } while (cursor);
  return items;
}

function fillOptions(select, entries) {
  const keep = [...select.options].filter((option) => !option.dataset.filled);
  const added = entries.map(([value, name]) => {
    const option = el("option", { value }, name);
    option.dataset.filled = "yes";
    return option;
  });
  const chosen = select.value;
  select.replaceChildren(...keep, ...added);
  // Re-inserted options lose their selectedness: choose again, "All ..." unless still there.
  const values = [...select.options].map((option) => option.value);
  select.value = values.includes(chosen) ? chosen : values[0];
}

/** The query the filters and the sort describe, for GET /worklist/queue. */
function queueQuery(cursor) {
  const form = $("queue-filters");
  const params = new URLSearchParams({ limit: String(PAGE_LIMIT) });
  for (const name of ["department_code", "tumour_group", "priority", "status"]) {
    const value = form.elements[name].value;
    if (value) params.set(name, value);
  }
  const holder = $("filter-holder").value;
  if (holder === "-") params.set("unassigned_only", "true");
  else if (holder) params.set("holder", holder);
  if ($("filter-overdue").checked) params.set("overdue_only", "true");
  params.set("sort", $("queue-sort").value);
  if ($("queue-descending").checked) params.set("descending", "true");
  if (cursor) params.set("cursor", cursor);
  return `/worklist/queue?${params}`;
}

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

function holderCell(item) {
  const code = item.case.primary_pathologist_code;
  if (code) {
    const who = pathologists.find((p) => p.code === code);
    return el("td", {}, who ? `${who.name} (${code})` : code);
  }
  return el(
    "td",
    {},
    el("span", { class: "unassigned" }, "Unassigned"),
    item.unplaced_reason
      ? el("span", { class: "unplaced-reason" }, `Left unplaced: ${item.unplaced_reason}`)
      : null,
  );
}

function moveButton(item) {
  const held = Boolean(item.case.primary_pathologist_code);
  const verb = held ? "Reassign" : "Assign";
  return el(
    "button",
    {
      type: "button",
      "aria-label": `${verb} ${item.case.accession_number}`,
      onclick: () => openMove(item),
    },
    verb,
  );
}

function queueRow(item) {
  const c = item.case;
  const due = el(
    "td",
    {},
    el("time", { datetime: c.due_at }, formatDateTime(c.due_at)),
    item.overdue ? el("span", { class: "overdue-flag" }, "Overdue") : null,
  );
  return el(
    "tr",
    { class: item.overdue ? "overdue" : null },
    el("th", { scope: "row" }, el("a", { href: `/case/${c.id}` }, c.accession_number)),
    el("td", {}, PRIORITY_NAMES[c.priority] ?? c.priority),
    due,
    el("td", {}, STATUS_NAMES[c.status] ?? c.status),
    el("td", {}, c.tumour_group),
    el("td", {}, c.department_code),
    holderCell(item),
    el("td", { class: "number" }, String(item.days_open)),
    el("td", {}, moveButton(item)),
  );
}

function markSortedColumn() {
  const sort = $("queue-sort").value;
  const direction = $("queue-descending").checked ? "descending" : "ascending";
  for (const header of table.tHead.rows[0].cells) {
    if (header.dataset.sort === sort) header.setAttribute("aria-sort", direction);
    else header.removeAttribute("aria-sort");
  }
}

function render() {
  table.tBodies[0].replaceChildren(...shown.map(queueRow));
  table.hidden = shown.length === 0;
  markSortedColumn();
  const overdue = shown.filter((item) => item.overdue).length;
  $("queue-count").textContent =
    (shown.length === total ? plural(total, "case") : `Showing ${shown.length} of ${total} cases`) +
    (overdue ? `, ${overdue} overdue shown` : "");
  $("queue-more").hidden = !nextCursor;
  const empty = $("queue-empty");
  empty.hidden = shown.length > 0;
  empty.replaceChildren(
    el("p", {}, "No open case matches these filters."),
    el(
      "p",
      {},
      "Choose “All sites”, “All tumour groups” and the other “All” options, or clear " +
        "“Overdue only”, to see more of the region's queue.",
    ),
  );
}

async function loadQueue({ more = false } = {}) {
  statusRegion.textContent = more ? "Loading more cases…" : "Loading the regional queue…";
  errorRegion.textContent = "";
  try {
    const page = await api(queueQuery(more ? nextCursor : null));
    shown = more ? [...shown, ...page.items] : page.items;
    nextCursor = page.next;
    total = page.total ?? shown.length;
    render();
    statusRegion.textContent = "";
  } catch (failure) {
    statusRegion.textContent = "";
    if (failure.status !== 401) {
      errorRegion.textContent = `The regional queue could not be loaded: ${failure.message}`;
    }
  }
}

// -- the move dialog --------------------------------------------------------------------

function chosenPathologist() {
  return pathologists.find((p) => p.code === $("move-pathologist").value) ?? null;
}

function outsideSubspecialty() {
  const chosen = chosenPathologist();
  return Boolean(chosen && moving && !chosen.subspecialties.includes(moving.case.tumour_group));
}

function showSubspecialtyWarning() {
  const outside = outsideSubspecialty();
  const warning = $("move-subspecialty");
  warning.hidden = !outside;
  $("move-confirm-label").hidden = !outside;
  if (!outside) $("move-confirm").checked = false;
  if (outside) {
    const chosen = chosenPathologist();
    warning.textContent =
      `${moving.case.accession_number} is ${moving.case.tumour_group}, outside the ` +
      `subspecialties of ${chosen.code} (${chosen.subspecialties.join(", ") || "none"}). ` +
      "Confirm below to assign it anyway; the audit marks it.";
  }
}

function openMove(item) {
  moving = item;
  const held = item.case.primary_pathologist_code;
  const verb = held ? "Reassign" : "Assign";
  $("move-heading").textContent = `${verb} ${item.case.accession_number}`;
  $("move-current").textContent = held
    ? `Now with ${held}; ${item.case.tumour_group}, ${item.case.department_code}.`
    : `Unassigned; ${item.case.tumour_group}, ${item.case.department_code}.`;
  $("move-submit").textContent = verb;
  const candidates = pathologists.filter((p) => p.code !== held);
  const fits = (p) => p.subspecialties.includes(item.case.tumour_group);
  candidates.sort((a, b) => Number(fits(b)) - Number(fits(a)) || a.code.localeCompare(b.code));
  $("move-pathologist").replaceChildren(
    ...candidates.map((p) =>
      el(
        "option",
        { value: p.code },
        `${p.code} · ${p.name} (${p.subspecialties.join(", ")})${fits(p) ? "" : " · outside"}`,
      ),
    ),
  );
  $("move-reason").value = "";
  $("move-reason").removeAttribute("aria-invalid");
  $("move-error").textContent = "";
  $("move-confirm").checked = false;
  showSubspecialtyWarning();
  dialog.showModal();
  $("move-pathologist").focus();
}

async function submitMove(event) {
  event.preventDefault();
  const error = $("move-error");
  const reasonField = $("move-reason");
  const reason = reasonField.value.trim();
  error.textContent = "";
  if (!reason) {
    reasonField.setAttribute("aria-invalid", "true");
    error.textContent = "Give a reason: the case's history shows why it moved.";
    reasonField.focus();
    return;
  }
  reasonField.removeAttribute("aria-invalid");
  if (outsideSubspecialty() && !$("move-confirm").checked) {
    error.textContent =
      "This case is outside the pathologist's subspecialties: tick the confirmation, or " +
      "choose someone else.";
    $("move-confirm").focus();
    return;
  }
  const held = moving.case.primary_pathologist_code;
  const body = {
    pathologist_code: $("move-pathologist").value,
    reason,
    expected_version: moving.case.version,
  };
  // The API asks the confirmation of a reassignment; a hand assignment is confirmed here.
  if (held) body.confirm_outside_subspecialty = $("move-confirm").checked;
  const submit = $("move-submit");
  submit.disabled = true;
  try {
    const path = `/cases/${moving.case.id}/${held ? "reassign" : "assign"}`;
    const receipt = await api(path, { method: "POST", body });
    dialog.close();
    resultRegion.replaceChildren(
      el("a", { href: `/case/${moving.case.id}` }, moving.case.accession_number),
      ` is now with ${receipt.pathologist_code}. Reason kept in its history: “${reason}”.`,
    );
    await loadQueue();
  } catch (failure) {
    if (failure.status === 409 && /subspecialt/.test(failure.message)) {
      $("move-confirm-label").hidden = false;
    }
    error.textContent = `The case was not moved: ${failure.message}`;
  } finally {
    submit.disabled = false;
  }
}

// -- start ------------------------------------------------------------------------------

async function loadChoices() {
  const [departments, people] = await Promise.all([
    allItems("/departments"),
    allItems("/pathologists"),
  ]);
  pathologists = people;
  fillOptions(
    $("filter-department"),
    departments.map((d) => [d.code, `${d.code} · ${d.name}`]),
  );
  const groups = [...new Set(people.flatMap((p) => p.subspecialties))].sort();
  fillOptions($("filter-tumour-group"), groups.map((g) => [g, g]));
  fillOptions($("filter-priority"), Object.entries(PRIORITY_NAMES));
  fillOptions($("filter-status"), Object.entries(STATUS_NAMES));
  fillOptions(
    $("filter-holder"),
    people.map((p) => [p.code, `${p.code} · ${p.name}`]),
  );
}

async function start() {
  let user;
  try {
    user = await mountHeader("desk-queue");
  } catch (failure) {
    statusRegion.textContent = "";
    if (failure.status !== 401) errorRegion.textContent = failure.message;
    return;
  }
  if (!DESK_ROLES.has(user.role)) {
    statusRegion.textContent = "";
    errorRegion.textContent =
      "The regional queue is the lab manager's page: your account's role may not see the " +
      "region's cases. Your own cases are on My worklist.";
    return;
  }
  try {
    await loadChoices();
  } catch (failure) {
    statusRegion.textContent = "";
    if (failure.status !== 401) {
      errorRegion.textContent = `The sites and pathologists could not be loaded: ${failure.message}`;
    }
    return;
  }
  $("queue-filters").addEventListener("change", () => loadQueue());
  $("queue-filters").addEventListener("submit", (event) => event.preventDefault());
  $("queue-more").addEventListener("click", () => loadQueue({ more: true }));
  $("move-pathologist").addEventListener("change", showSubspecialtyWarning);
  $("move-form").addEventListener("submit", submitMove);
  $("move-cancel").addEventListener("click", () => dialog.close());
  await loadQueue();
}

start();
