// My worklist: the cases I hold as primary pathologist (GET /worklist/mine?kind=primary, every
// page), most urgent first, filtered by status and tumour group in the page; the open consult
// and second-opinion requests addressed to me (GET /worklist/consults); the slides scanned
// after I signed their case out (GET /worklist/after-sign-out); "Claim next case".
// Accounts that are not a pathologist's get a short explanation instead.

import { api, el, formatDateTime } from "/static/js/api.js";
import { mountHeader, roleName, userLabel } from "/static/js/header.js";

const PAGE_LIMIT = 200; // the API's largest page: fewest round trips on a remote link

// The API's enums as people read them; the order of PRIORITY_NAMES is the urgency order.
const PRIORITY_NAMES = {
  frozen: "Frozen section",
  urgent: "Urgent",
  cancer_pathway: "Cancer pathway",
  routine: "Routine",
};
const PRIORITY_RANK = Object.fromEntries(Object.keys(PRIORITY_NAMES).map((key, i) => [key, i]));
const STATUS_NAMES = {
  received: "Received",
  scanned: "Scanned",
  assigned: "Assigned",
  in_review: "In review",
  consult_pending: "Consult pending",
  signed_out: "Signed out",
};
const KIND_NAMES = { primary: "Primary", consult: "Consult", second_opinion: "Second opinion" };

const DESK_LATER = {
  privacy_officer:
    "The privacy officer's desk (the audit log) comes later; privacy officers see no clinical " +
    "content, so no cases are listed here.",
};

/** Roles whose landing page is the lab manager's desk rather than a worklist of their own. */
const DESK_ROLES = new Set(["lab_manager", "admin"]);

const $ = (id) => document.getElementById(id);
const statusFilter = $("status-filter");
const tumourFilter = $("tumour-group-filter");
const errorRegion = $("worklist-error");

let primaryItems = [];

/** Every item of a list, following `next` page by page. */
async function allItems(path) {
  const items = [];
  const separator = path.includes("?") ? "&" : "?";
  let cursor = null;
  do {
    const query = `limit=${PAGE_LIMIT}` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
    const page = await api(`${path}${separator}${query}`);
    items.push(...page.items);
    cursor = page.next;
  } while (cursor);
  return items;
}

/** Most urgent first: priority, then due date; ties keep the API's order. */
function byUrgency(a, b) {
  const rank = PRIORITY_RANK[a.case.priority] - PRIORITY_RANK[b.case.priority];
  return rank !== 0 ? rank : Date.parse(a.case.due_at) - Date.parse(b.case.due_at);
}

function isOverdue(item, now) {
  return item.case.status !== "signed_out" && Date.parse(item.case.due_at) < now;
}

function caseLink(detail) {
  return el("a", { href: `/case/${detail.id}` }, detail.accession_number);
}

function workloadText(item) {
  const minutes = item.workload_minutes ?? item.case.workload_minutes;
  if (typeof minutes !== "number") return "—";
  return minutes.toLocaleString("en-GB", { maximumFractionDigits: 1 });
}

function worklistRow(item, now) {
  const overdue = isOverdue(item, now);
  const due = el(
    "td",
    {},
    el("time", { datetime: item.case.due_at }, formatDateTime(item.case.due_at)),
    overdue ? el("span", { class: "overdue-flag" }, "Overdue") : null,
  );
  return el(
    "tr",
    { class: overdue ? "overdue" : null },
    el("th", { scope: "row" }, caseLink(item.case)),
    el("td", {}, PRIORITY_NAMES[item.case.priority] ?? item.case.priority),
    due,
    el("td", {}, STATUS_NAMES[item.case.status] ?? item.case.status),
    el("td", {}, item.case.tumour_group),
    el("td", {}, item.case.department_code),
    el("td", { class: "number" }, workloadText(item)),
  );
}

function fillOptions(select, values, names) {
  const chosen = select.value;
  const first = select.options[0];
  select.replaceChildren(
    first,
    ...values.map((value) => el("option", { value }, names?.[value] ?? value)),
  );
  select.value = values.includes(chosen) ? chosen : "";
}

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

function filterDescription() {
  const parts = [];
  if (statusFilter.value) parts.push(`status “${STATUS_NAMES[statusFilter.value]}”`);
  if (tumourFilter.value) parts.push(`tumour group “${tumourFilter.value}”`);
  return parts.join(" and ");
}

function renderWorklist() {
  const now = Date.now();
  const shown = primaryItems.filter(
    (item) =>
      (!statusFilter.value || item.case.status === statusFilter.value) &&
      (!tumourFilter.value || item.case.tumour_group === tumourFilter.value),
  );
  const table = $("worklist-table");
  table.tBodies[0].replaceChildren(...shown.map((item) => worklistRow(item, now)));
  table.hidden = shown.length === 0;
  const overdue = shown.filter((item) => isOverdue(item, now)).length;
  const total = plural(primaryItems.length, "case");
  $("worklist-count").textContent =
    (shown.length === primaryItems.length ? total : `Showing ${shown.length} of ${total}`) +
    (overdue ? `, ${overdue} overdue` : "");
  const empty = $("worklist-empty");
  empty.hidden = shown.length > 0;
  if (primaryItems.length === 0) {
    empty.replaceChildren(
      el("p", {}, "No cases are assigned to you as primary pathologist right now."),
      el(
        "p",
        {},
        "New cases arrive with the assignment rounds. “Claim next case” takes the most urgent " +
          "waiting case of your subspecialties now.",
      ),
    );
  } else if (shown.length === 0) {
    empty.replaceChildren(
      el("p", {}, `None of your ${total} has ${filterDescription()}.`),
      el("p", {}, "Choose “All statuses” or “All tumour groups” to see the others."),
    );
  }
}

function questionMissing(item) {
  // A second read the assignment round planned: nobody asked, so there is no question.
  const text = item.requested_by ? "No question given" : "Planned second read (no question)";
  return el("span", { class: "muted" }, text);
}

function consultRow(item) {
  const asker = item.requested_by;
  return el(
    "tr",
    {},
    el("th", { scope: "row" }, caseLink(item.case)),
    el("td", {}, KIND_NAMES[item.kind] ?? item.kind),
    el("td", { class: "free-text" }, item.question ?? questionMissing(item)),
    el("td", {}, asker ? `${asker.name} (${asker.pathologist_code})` : "The assignment round"),
    el("td", {}, formatDateTime(item.requested_at)),
    el("td", {}, PRIORITY_NAMES[item.case.priority] ?? item.case.priority),
  );
}

function renderConsults(items) {
  const table = $("consults-table");
  table.tBodies[0].replaceChildren(...items.map(consultRow));
  table.hidden = items.length === 0;
  const empty = $("consults-empty");
  empty.hidden = items.length > 0;
  empty.replaceChildren(
    el("p", {}, "No colleague has asked for your opinion on a case. When one does, it shows here."),
  );
}

// A slide scanned after I signed its case out (GET /worklist/after-sign-out): one row each.
function lateSlideRow(item) {
  return el(
    "tr",
    {},
    el("th", { scope: "row" }, el("a", { href: `/case/${item.case_id}` }, item.accession_number)),
    el("td", {}, `${item.block_label} ${item.stain}`),
    el("td", {}, el("time", { datetime: item.scanned_at }, formatDateTime(item.scanned_at))),
    el("td", {}, el("time", { datetime: item.signed_out_at }, formatDateTime(item.signed_out_at))),
  );
}

function renderLateSlides(items) {
  const table = $("late-slides-table");
  table.tBodies[0].replaceChildren(...items.map(lateSlideRow));
  table.hidden = items.length === 0;
  const empty = $("late-slides-empty");
  empty.hidden = items.length > 0;
  empty.replaceChildren(
    el(
      "p",
      {},
      "No slide came in after you signed a case out. When the lab scans one for a case you " +
        "signed out, it shows here, so you can add an addendum.",
    ),
  );
}

async function load() {
  const [primary, consults, lateSlides] = await Promise.all([
    allItems("/worklist/mine?kind=primary"),
    allItems("/worklist/consults"),
    allItems("/worklist/after-sign-out"),
  ]);
  primaryItems = primary.sort(byUrgency);
  const statuses = Object.keys(STATUS_NAMES).filter((status) =>
    primaryItems.some((item) => item.case.status === status),
  );
  const groups = [...new Set(primaryItems.map((item) => item.case.tumour_group))].sort();
  fillOptions(statusFilter, statuses, STATUS_NAMES);
  fillOptions(tumourFilter, groups);
  renderWorklist();
  renderConsults(consults);
  renderLateSlides(lateSlides);
}

async function claimNext(button) {
  const result = $("claim-result");
  button.disabled = true;
  result.textContent = "Claiming…";
  errorRegion.textContent = "";
  try {
    const body = { own_subspecialties_only: $("claim-own-subspecialties").checked };
    const answer = await api("/worklist/claim-next", { method: "POST", body });
    if (answer.assignment) {
      const taken = answer.assignment.case;
      result.replaceChildren(
        "You claimed ",
        el("a", { href: `/case/${taken.case_id}` }, taken.accession_number),
        "; it is on your worklist now.",
      );
      await load();
    } else {
      result.textContent = answer.reason
        ? `No case was given: ${answer.reason}`
        : "No case was given, and the server did not say why.";
    }
  } catch (failure) {
    result.textContent = "";
    errorRegion.textContent = `Claiming a case failed: ${failure.message}`;
  } finally {
    button.disabled = false;
  }
}

function explainDesk(user) {
  const who = `You are signed in as ${userLabel(user)}, ${roleName(user.role).toLowerCase()}.`;
  const later =
    user.role === "pathologist"
      ? "Your account is not linked to a pathologist record yet, so no cases can be assigned to " +
        "you; ask an administrator to link it."
      : (DESK_LATER[user.role] ?? "Your desk comes to the web app later.");
  $("desk-explanation").textContent = `${who} ${later}`;
  $("not-a-pathologist").hidden = false;
}

async function start() {
  const status = $("worklist-status");
  let user;
  try {
    user = await mountHeader("worklist");
  } catch (failure) {
    status.textContent = "";
    if (failure.status !== 401) errorRegion.textContent = failure.message;
    return; // 401: the API client is on its way to the sign-in page
  }
  if (DESK_ROLES.has(user.role)) {
    location.replace("/desk/queue");
    return;
  }
  if (user.role !== "pathologist" || !user.pathologist_code) {
    status.textContent = "";
    explainDesk(user);
    return;
  }
  $("pathologist-desk").hidden = false;
  statusFilter.addEventListener("change", renderWorklist);
  tumourFilter.addEventListener("change", renderWorklist);
  const claim = $("claim-next");
  claim.addEventListener("click", () => claimNext(claim));
  try {
    await load();
    status.textContent = "";
  } catch (failure) {
    status.textContent = "";
    if (failure.status !== 401) {
      errorRegion.textContent = `Your worklist could not be loaded: ${failure.message}`;
    }
  }
}

start();
