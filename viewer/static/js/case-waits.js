// "Waiting on": the case's waits (GET/POST /cases/{id}/waits, POST .../waits/{wait}/end). While
// a case waits on an external consult or a molecular test its turnaround clock is paused (the
// capacity report subtracts the waits); the open ones are listed with "End wait", the ended
// ones compactly, and a small form starts one. The rules (one open wait per reason, none on a
// signed-out case, not on an emergency grant alone) are the API's: its refusal is shown here.

import { api, ApiError, el } from "/static/js/api.js";
import { onCaseChanged } from "/static/js/case.js";
import { panelContext } from "/static/js/case-panel.js";
import { allItems, problemOf, say, statusRegion, timeElement } from "/static/js/panel-kit.js";

const REASON_WORDS = { external_consult: "External consult", molecular_test: "Molecular test" };

const panel = document.getElementById("waits-panel");
const openList = el("ul", { class: "wait-list", "aria-label": "Open waits" });
const endedList = el("ul", { class: "wait-list is-compact", "aria-label": "Ended waits" });
const endedBlock = el(
  "div",
  { class: "panel-block", hidden: true },
  el("h3", { id: "ended-waits-heading" }, "Ended waits"),
  endedList,
);
const empty = el("p", { class: "panel-empty" }, "Loading the waits…");
// Focusable: after a refusal the form goes, and the keyboard lands on the reason instead.
const locked = el("p", { class: "panel-hint wait-locked", hidden: true, tabindex: "-1" });
const status = statusRegion("Wait status");

const page = { caseId: null, waits: [], lockedReason: null };

function reasonWords(reason) {
  return REASON_WORDS[reason] ?? String(reason).replaceAll("_", " ");
}

/** "2 h 5 min", "3 d 4 h": how long a wait lasted, to the minute. */
function durationWords(startIso, endIso) {
  const minutes = Math.max(0, Math.round((Date.parse(endIso) - Date.parse(startIso)) / 60_000));
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  if (days) return hours ? `${days} d ${hours} h` : `${days} d`;
  const rest = minutes % 60;
  if (hours) return rest ? `${hours} h ${rest} min` : `${hours} h`;
  return `${rest} min`;
}

function openItem(wait) {
  const reason = reasonWords(wait.reason);
  const end = el(
    "button",
    {
      type: "button",
      class: "button",
      // The visible words first (label in name), then which wait: several may be open.
      "aria-label": `End wait: ${reason}`,
      hidden: page.lockedReason !== null,
      onclick: () => endWait(wait, end),
    },
    "End wait",
  );
  return el(
    "li",
    { class: "wait is-open" },
    el("p", { class: "wait-title" }, reason),
    el("p", { class: "wait-meta" }, "Since ", timeElement(wait.started_at), ` · recorded by ${wait.recorded_by}`),
    end,
  );
}

function endedItem(wait) {
  return el(
    "li",
    { class: "wait is-ended" },
    `${reasonWords(wait.reason)}: `,
    timeElement(wait.started_at),
    " – ",
    timeElement(wait.ended_at),
    ` (${durationWords(wait.started_at, wait.ended_at)})`,
  );
}

function show() {
  const open = page.waits.filter((w) => w.ended_at === null);
  const ended = page.waits.filter((w) => w.ended_at !== null).reverse(); // latest first
  openList.replaceChildren(...open.map(openItem));
  endedList.replaceChildren(...ended.map(endedItem));
  openList.hidden = open.length === 0;
  endedBlock.hidden = ended.length === 0;
  empty.hidden = open.length > 0;
  empty.textContent = "The case is not waiting on anything: its turnaround clock runs.";
}

async function readWaits() {
  page.waits = await allItems(`/cases/${page.caseId}/waits`);
  show();
}

// A signed-out case's turnaround is final, and an emergency grant only lets one read the case:
// the form and the end buttons go, and the reason is said instead.
function lock(reason) {
  page.lockedReason = reason;
  form.hidden = reason !== null;
  locked.hidden = reason === null;
  locked.textContent = reason ?? "";
  for (const button of openList.querySelectorAll("button")) button.hidden = reason !== null;
}

function lockIfRefused(error) {
  if (error instanceof ApiError && error.status === 403) {
    lock(`You may read this case's waits but not record them: ${error.message}.`);
    locked.focus();
  }
}

async function change(path, body, done, failed) {
  try {
    await api(path, { method: "POST", body });
  } catch (error) {
    say(status, `${failed}: ${problemOf(error)}`, { error: true });
    lockIfRefused(error);
    return false;
  }
  say(status, done);
  try {
    await readWaits();
  } catch (error) {
    say(status, `${done} The list could not be read again: ${problemOf(error)}`, { error: true });
  }
  return true;
}

async function endWait(wait, button) {
  button.disabled = true;
  const reason = reasonWords(wait.reason);
  const ended = await change(
    `/cases/${page.caseId}/waits/${wait.id}/end`,
    {},
    `The ${reason.toLowerCase()} wait ended: the clock runs again.`,
    `The ${reason.toLowerCase()} wait was not ended`,
  );
  if (!ended) button.disabled = false;
  // The list was drawn again: keep the keyboard in the panel, not on a removed button.
  if (ended) (openList.querySelector("button:not([hidden])") ?? reasonField).focus();
}

const reasonField = el(
  "select",
  { id: "wait-reason", name: "reason" },
  ...Object.entries(REASON_WORDS).map(([value, words]) => el("option", { value }, words)),
);
const startButton = el("button", { type: "submit", class: "primary" }, "Start wait");
const form = el(
  "form",
  {
    class: "panel-form",
    "aria-labelledby": "start-wait-heading",
    onsubmit: async (event) => {
      event.preventDefault();
      const reason = reasonWords(reasonField.value);
      startButton.disabled = true;
      try {
        await change(
          `/cases/${page.caseId}/waits`,
          { reason: reasonField.value },
          `The case now waits on: ${reason.toLowerCase()}. Its clock is paused.`,
          `The ${reason.toLowerCase()} wait was not started`,
        );
      } finally {
        startButton.disabled = false;
      }
    },
  },
  el("h3", { id: "start-wait-heading" }, "Start a wait"),
  el("div", { class: "field" }, el("label", { for: "wait-reason" }, "Reason"), reasonField),
  startButton,
);

function lockWhenSignedOut(detail) {
  if (detail.status === "signed_out") {
    lock("This case is signed out: its turnaround is final, so its waits can no longer change.");
  }
}

async function start() {
  const context = await panelContext(panel);
  if (!context) return;
  page.caseId = context.caseId;
  panel.replaceChildren(
    el("h2", { id: "waits-heading" }, "Waiting on"),
    el(
      "p",
      { class: "panel-hint" },
      "While the case waits on an external consult or a molecular test, its turnaround clock " +
        "is paused; ending the wait starts the clock again.",
    ),
    empty,
    openList,
    form,
    locked,
    status,
    endedBlock,
  );
  lockWhenSignedOut(context.detail);
  onCaseChanged(lockWhenSignedOut);
  try {
    await readWaits();
  } catch (error) {
    empty.textContent = "";
    say(status, `The waits could not be read: ${problemOf(error)}`, { error: true });
  }
}

start();
