// The case's history (GET /cases/{id}/history), oldest first: received, every assignment (by
// a rule, a claim or a lab manager), each move with its reason, releases, consults asked and
// answered, report versions, sign-out and addenda. Reasons and consult texts are free text
// and shown as text. Read again whenever the case changes on this page (onCaseChanged).

import { api, el } from "/static/js/api.js";
import { onCaseChanged } from "/static/js/case.js";
import { panelContext } from "/static/js/case-panel.js";
import { freeText, problemOf, say, statusRegion, timeElement } from "/static/js/panel-kit.js";

const panel = document.getElementById("history-panel");
const list = el("ol", { class: "comment-list", "aria-labelledby": "history-heading" });
const empty = el("p", { class: "panel-empty" }, "Loading the history…");
const status = statusRegion("History status");

const KIND_NAMES = { primary: "primary read", second_opinion: "second opinion", consult: "consult" };
const RULE_NAMES = {
  claim: "claimed",
  "claim-next": "claimed (next case)",
  manual: "assigned by hand",
  reassign: "reassigned",
};

/** What happened, in a short sentence. */
function title(event) {
  const who = event.pathologist_code ?? "someone";
  switch (event.kind) {
    case "received":
      return "Received";
    case "assigned":
      if (event.rule === "claim" || event.rule === "claim-next") return `Claimed by ${who}`;
      return `Assigned to ${who}`;
    case "reassigned":
      return `Reassigned from ${event.from_pathologist_code} to ${who}`;
    case "released":
      return `Released by ${who}`;
    case "consult_requested":
      return `${KIND_NAMES[event.assignment_kind] ?? "Consult"} asked of ${who}`.replace(
        /^./,
        (c) => c.toUpperCase(),
      );
    case "consult_answered":
      return `${KIND_NAMES[event.assignment_kind] ?? "Consult"} answered by ${who}`.replace(
        /^./,
        (c) => c.toUpperCase(),
      );
    case "report_saved":
      return `Report version ${event.report_version} saved by ${who}`;
    case "signed_out":
      return `Signed out by ${who}`;
    case "addendum":
      return `Addendum signed by ${who}`;
    default:
      return event.kind;
  }
}

function meta(event) {
  const parts = [timeElement(event.at)];
  if (event.by && event.by !== event.pathologist_code) parts.push(` · by ${event.by}`);
  if (event.kind === "assigned" && event.rule) {
    parts.push(` · ${RULE_NAMES[event.rule] ?? `rule ${event.rule}`}`);
  }
  return el("p", { class: "comment-meta" }, ...parts);
}

function historyItem(event) {
  return el(
    "li",
    { class: "comment history-event", "data-kind": event.kind },
    el("p", { class: "consult-title" }, title(event)),
    meta(event),
    event.outside_subspecialty
      ? el("p", { class: "comment-meta" }, "Confirmed outside the pathologist's subspecialties")
      : null,
    event.reason
      ? el("p", { class: "free-text history-reason" }, el("strong", {}, "Reason: "), event.reason)
      : null,
    event.text ? freeText(event.text, { class: "history-text" }) : null,
  );
}

async function show(caseId) {
  try {
    const history = await api(`/cases/${caseId}/history`);
    list.replaceChildren(...history.events.map(historyItem));
    empty.hidden = history.events.length > 0;
    empty.textContent = "Nothing has happened to this case yet.";
    say(status, "");
  } catch (error) {
    empty.textContent = "";
    say(status, `The history could not be read: ${problemOf(error)}`, { error: true });
  }
}

async function start() {
  const context = await panelContext(panel);
  if (!context) return;
  const { caseId } = context;
  panel.replaceChildren(el("h2", { id: "history-heading" }, "History"), empty, list, status);
  onCaseChanged(() => show(caseId));
  await show(caseId);
}

start();
