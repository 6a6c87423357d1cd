// The assignment round (lab managers and admins): POST /assignment-rounds previews a stored
// round; the proposals come with a checkbox each (all approved at first), the load per
// pathologist and what was left unplaced. "Apply" sends the approved ids to
// POST /assignment-rounds/{id}/apply; a stale round (409) lists what changed, each change on
// its own line, and offers a new preview.

import { api, ApiError, el } from "/static/js/api.js";
import { mountHeader } from "/static/js/header.js";

const DESK_ROLES = new Set(["lab_manager", "admin"]);
const $ = (id) => document.getElementById(id);
const statusRegion = $("round-status");
const errorRegion = $("round-error");
const resultRegion = $("round-result");
const previewButton = $("round-preview");
const applyButton = $("round-apply");

let round = null; // the round on the page (RoundPublic)

/** List a stale round's changes (the 409's `changes`), or hide the list (`changes` null). */
function showChanges(changes) {
  const section = $("round-changes");
  $("round-changes-list").replaceChildren(...(changes ?? []).map((change) => el("li", {}, change)));
  section.hidden = !changes;
}

function percent(value) {
  return value === null ? "no capacity today" : `${Math.round(value * 100)}%`;
}

function proposalRow(p) {
  const box = el("input", {
    type: "checkbox",
    checked: round.status === "previewed" ? true : p.applied, // once applied: what was assigned
    disabled: round.status !== "previewed",
    "data-proposal-id": p.id,
    "aria-label": `${round.status === "previewed" ? "Approve" : "Applied:"} ${p.accession} to ${p.assignee_name}`,
  });
  const placement = p.overloaded ? `${p.placement} (overloaded)` : p.placement;
  return el(
    "tr",
    {},
    el("td", {}, box),
    el("td", {}, p.kind === "primary" ? p.accession : `${p.accession} (${p.kind.replace("_", " ")})`),
    el("td", {}, `${p.assignee_name} (${p.department_code})`),
    el("td", { class: p.overloaded ? "overloaded" : null }, placement),
    el("td", {}, p.rule),
    el("td", {}, String(Math.round(p.minutes))),
    el("td", {}, p.reason),
  );
}

function loadRow(row) {
  const over = row.relative_load_after !== null && row.relative_load_after > 1;
  return el(
    "tr",
    {},
    el("td", {}, row.name),
    el("td", {}, row.department_code),
    el("td", {}, row.present ? "present" : "absent"),
    el("td", {}, String(Math.round(row.capacity_today_minutes))),
    el("td", {}, String(Math.round(row.open_minutes_before))),
    el("td", {}, String(row.proposals)),
    el("td", { class: over ? "overloaded" : null }, percent(row.relative_load_after)),
  );
}

function show(shown) {
  round = shown;
  const applied = round.status === "applied";
  $("round-summary").textContent =
    `Round ${round.id}, ${applied ? "applied" : "a preview"}: ${round.proposals.length} proposals, ` +
    `${round.unplaced.length} left unplaced.`;
  $("proposals-table").querySelector("tbody").replaceChildren(...round.proposals.map(proposalRow));
  $("proposals-table").hidden = round.proposals.length === 0;
  $("proposals-empty").hidden = round.proposals.length > 0;
  $("load-table").querySelector("tbody").replaceChildren(...round.load.map(loadRow));
  const unplaced = round.unplaced.map((u) =>
    el("tr", {}, el("td", {}, u.accession), el("td", {}, u.kind.replace("_", " ")), el("td", {}, u.reason)),
  );
  $("unplaced-table").querySelector("tbody").replaceChildren(...unplaced);
  // Folded: on a busy day hundreds of cases wait for tomorrow's capacity, and the proposals
  // are what the manager decides on. The regional queue shows each case's reason too.
  $("unplaced-details").hidden = unplaced.length === 0;
  $("unplaced-summary").textContent =
    `Show the ${unplaced.length} case${unplaced.length === 1 ? "" : "s"} left unplaced, with why`;
  $("unplaced-empty").hidden = unplaced.length > 0;
  for (const id of ["round-proposals", "round-load", "round-unplaced"]) $(id).hidden = false;
  for (const id of ["round-apply", "round-select-all", "round-select-none"]) {
    $(id).disabled = applied || round.proposals.length === 0;
  }
}

function boxes() {
  return [...$("proposals-table").querySelectorAll("input[data-proposal-id]")];
}

async function preview() {
  errorRegion.textContent = "";
  showChanges(null);
  resultRegion.textContent = "";
  statusRegion.textContent = "Running the engine…";
  previewButton.disabled = true;
  try {
    show(await api("/assignment-rounds", { method: "POST", body: {} }));
    statusRegion.textContent = "Preview ready: nothing is assigned yet.";
  } catch (error) {
    statusRegion.textContent = "";
    errorRegion.textContent = error.message;
  } finally {
    previewButton.disabled = false;
  }
}

async function apply() {
  if (!round) return;
  const ids = boxes().filter((box) => box.checked).map((box) => Number(box.dataset.proposalId));
  errorRegion.textContent = "";
  if (ids.length === 0) {
    errorRegion.textContent = "Approve at least one proposal, or run a new preview.";
    return;
  }
  statusRegion.textContent = `Applying ${ids.length} proposals…`;
  applyButton.disabled = true;
  try {
    const done = await api(`/assignment-rounds/${round.id}/apply`, {
      method: "POST",
      body: { proposal_ids: ids },
    });
    show(done);
    const made = done.proposals.filter((p) => p.applied).length;
    statusRegion.textContent = "";
    resultRegion.textContent = `Applied: ${made} of ${done.proposals.length} proposals assigned.`;
  } catch (error) {
    statusRegion.textContent = "";
    const changes = error instanceof ApiError ? error.body?.changes : null;
    if (Array.isArray(changes)) {
      errorRegion.textContent =
        `Nothing was applied: the worklist changed since this preview (${changes.length} ` +
        `${changes.length === 1 ? "change" : "changes"}). Run a new preview.`;
      showChanges(changes);
      $("round-preview-again").focus();
    } else {
      errorRegion.textContent = error.message;
      applyButton.disabled = false;
    }
  }
}

async function start() {
  const user = await mountHeader("desk-round");
  if (!user || !DESK_ROLES.has(user.role)) {
    errorRegion.textContent = "The assignment round is for lab managers and administrators.";
    previewButton.disabled = true;
    return;
  }
  previewButton.addEventListener("click", preview);
  $("round-preview-again").addEventListener("click", preview);
  applyButton.addEventListener("click", apply);
  $("round-select-all").addEventListener("click", () => boxes().forEach((b) => (b.checked = true)));
  $("round-select-none").addEventListener("click", () => boxes().forEach((b) => (b.checked = false)));
  statusRegion.textContent = "Ready: preview a round to see the engine's proposals.";
}

start();
