// The case's consults and second opinions (question, consultant, status, answer). The case's
// primary pathologist asks a named colleague, usually at another site; the colleague asked
// answers here, and the answer shows in the case. Questions and answers are shown as text.

import { api, el } from "/static/js/api.js";
import { onCaseChanged, reloadCase } from "/static/js/case.js";
import { panelContext } from "/static/js/case-panel.js";
import {
  allItems,
  freeText,
  isPrimary,
  personName,
  problemOf,
  say,
  statusRegion,
  textForm,
  timeElement,
} from "/static/js/panel-kit.js";

const MAX_TEXT_CHARS = 10_000; // the API's limit on a question and an answer
const KIND_WORDS = { consult: "Consult", second_opinion: "Second opinion" };
const STATUS_WORDS = { open: "Open", answered: "Answered" };

const panel = document.getElementById("consults-panel");
const list = el("ol", { class: "consult-list", "aria-labelledby": "consults-heading" });
const empty = el("p", { class: "panel-empty" }, "Loading the consults…");
const askBlock = el("div", { class: "panel-block" });
const answerBlock = el("div", { class: "panel-block" });
const status = statusRegion("Consult status");

const page = { caseId: null, detail: null, me: null, consults: [], colleagues: null };

function consultItem(consult) {
  const consultant = consult.consultant;
  const asked = consult.requested_by
    ? ["Asked by ", personName(consult.requested_by), " on ", timeElement(consult.requested_at)]
    : ["Planned on ", timeElement(consult.requested_at)];
  const answer =
    consult.answer === null || consult.answer === undefined
      ? el("p", { class: "consult-waiting" }, "Not answered yet.")
      : freeText(consult.answer, { class: "consult-answer" });
  return el(
    "li",
    { class: `consult is-${consult.status}` },
    el(
      "p",
      { class: "consult-title" },
      `${KIND_WORDS[consult.kind] || consult.kind} · `,
      `${personName(consultant)}, ${consultant.department_code} · `,
      el("span", { class: "consult-status" }, STATUS_WORDS[consult.status] || consult.status),
    ),
    el("p", { class: "consult-meta" }, ...asked),
    el(
      "dl",
      { class: "consult-texts" },
      el("dt", {}, "Question"),
      el("dd", {}, consult.question ? freeText(consult.question, { class: "consult-question" }) : "(none given)"),
      el("dt", {}, "Answer", consult.answered_at ? [" (", timeElement(consult.answered_at), ")"] : []),
      el("dd", {}, answer),
    ),
  );
}

function myOpenConsult() {
  const code = page.me.pathologist_code;
  return page.consults.find(
    (c) => c.status === "open" && code && c.consultant.pathologist_code === code,
  );
}

async function colleagues() {
  page.colleagues ??= allItems("/pathologists").then((all) =>
    all.filter((p) => p.code !== page.me.pathologist_code),
  );
  return page.colleagues;
}

// Colleagues by department, other sites first: a consult usually goes to another site.
function colleagueOptions(people) {
  const departments = new Map();
  for (const person of people) {
    if (!departments.has(person.department_code)) departments.set(person.department_code, []);
    departments.get(person.department_code).push(person);
  }
  const own = page.me.department_code;
  const order = [...departments.keys()].sort((a, b) => (a === own) - (b === own) || a.localeCompare(b));
  return [
    el("option", { value: "" }, "Choose a colleague"),
    ...order.map((department) =>
      el(
        "optgroup",
        { label: department === own ? `${department} (your department)` : department },
        ...departments
          .get(department)
          .map((p) => el("option", { value: p.code }, `${p.name} (${p.code})`)),
      ),
    ),
  ];
}

async function showAskForm() {
  const allowed = isPrimary(page.me, page.detail) && page.detail.status !== "signed_out";
  askBlock.hidden = !allowed;
  if (!allowed) {
    askBlock.replaceChildren();
    return;
  }
  if (askBlock.childElementCount) return;
  const who = el("select", { id: "consult-colleague", name: "pathologist_code", required: true });
  const kind = el(
    "select",
    { id: "consult-kind", name: "kind" },
    el("option", { value: "consult" }, "Consult"),
    el("option", { value: "second_opinion" }, "Second opinion"),
  );
  const question = el("textarea", {
    id: "consult-question",
    name: "question",
    rows: "3",
    maxlength: String(MAX_TEXT_CHARS),
    required: true,
  });
  const submit = el("button", { type: "submit", class: "primary" }, "Ask colleague");
  const form = el(
    "form",
    {
      class: "panel-form",
      "aria-labelledby": "ask-consult-heading",
      onsubmit: async (event) => {
        event.preventDefault();
        if (!who.value || !question.value.trim()) {
          say(status, "Choose a colleague and write the question.", { error: true });
          return;
        }
        submit.disabled = true;
        try {
          await api(`/cases/${page.caseId}/consults`, {
            method: "POST",
            body: { pathologist_code: who.value, kind: kind.value, question: question.value },
          });
          question.value = "";
          who.value = "";
          say(status, "The request was sent; the answer will show here.");
          await refresh();
        } catch (error) {
          say(status, `The request was not sent: ${problemOf(error)}`, { error: true });
        } finally {
          submit.disabled = false;
        }
      },
    },
    el("h3", { id: "ask-consult-heading" }, "Ask a colleague"),
    el("div", { class: "field" }, el("label", { for: "consult-colleague" }, "Colleague"), who),
    el("div", { class: "field" }, el("label", { for: "consult-kind" }, "Kind"), kind),
    el("div", { class: "field" }, el("label", { for: "consult-question" }, "Question"), question),
    submit,
  );
  askBlock.replaceChildren(form);
  try {
    who.replaceChildren(...colleagueOptions(await colleagues()));
  } catch (error) {
    say(status, `The list of colleagues could not be read: ${problemOf(error)}`, { error: true });
  }
}

function showAnswerForm() {
  const open = myOpenConsult();
  answerBlock.hidden = !open;
  if (!open) {
    answerBlock.replaceChildren();
    return;
  }
  if (answerBlock.childElementCount) return;
  const form = textForm({
    fieldId: "consult-answer",
    headingId: "answer-consult-heading",
    heading: "Answer the consult",
    label: "Answer",
    submitLabel: "Send answer",
    emptyMessage: "Write the answer first.",
    status,
    maxChars: MAX_TEXT_CHARS,
    rows: 4,
    intro: [
      el(
        "p",
        { class: "panel-hint" },
        `${personName(open.requested_by) || "A colleague"} asks you for a ${
          (KIND_WORDS[open.kind] || open.kind).toLowerCase()
        }.`,
      ),
    ],
    send: async (answer) => {
      try {
        await api(`/cases/${page.caseId}/consults/answer`, { method: "POST", body: { answer } });
      } catch (error) {
        say(status, `The answer was not sent: ${problemOf(error)}`, { error: true });
        return false;
      }
      say(status, "Your answer was sent.");
      await refresh();
      return true;
    },
  });
  answerBlock.replaceChildren(form);
}

async function readConsults() {
  page.consults = await allItems(`/cases/${page.caseId}/consults`);
  list.replaceChildren(...page.consults.map(consultItem));
  empty.textContent = "No consults or second opinions asked.";
  empty.hidden = page.consults.length > 0;
}

// After a request or an answer the case's status changed too (consult pending, in review).
async function refresh() {
  await readConsults();
  showAnswerForm();
  try {
    await reloadCase();
  } catch {
    // the case header stays as it was; the consult list above is current
  }
}

async function start() {
  const context = await panelContext(panel);
  if (!context) return;
  Object.assign(page, { caseId: context.caseId, detail: context.detail, me: context.me });
  panel.replaceChildren(
    el("h2", { id: "consults-heading" }, "Consults"),
    empty,
    list,
    answerBlock,
    askBlock,
    status,
  );
  onCaseChanged((detail) => {
    page.detail = detail;
    showAskForm();
  });
  try {
    await readConsults();
  } catch (error) {
    empty.textContent = "";
    say(status, `The consults could not be read: ${problemOf(error)}`, { error: true });
  }
  showAnswerForm();
  await showAskForm();
}

start();
