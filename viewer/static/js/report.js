// The case's report: the primary pathologist writes it here (macroscopy, microscopy,
// conclusion, diagnosis codes as code + display text), saves drafts (each a new version; a
// save from an old version is refused and offers the newer one), and signs the case out once
// there is a conclusion. Signed, the report is shown frozen with who signed when, and only
// addenda can be added, each signed by its author. Every text is shown as text.

import { api, ApiError, el } from "/static/js/api.js";
import { onCaseChanged, reloadCase } from "/static/js/case.js";
import { panelContext } from "/static/js/case-panel.js";
import { DiagnosisCodes } from "/static/js/diagnosis-codes.js";
import {
  freeText,
  isPrimary,
  personName,
  problemOf,
  say,
  statusRegion,
  textForm,
  timeElement,
} from "/static/js/panel-kit.js";

const MAX_TEXT_CHARS = 50_000; // the API's limit on each report text and an addendum
const FIELDS = [
  { name: "macroscopy", label: "Macroscopy", rows: 4 },
  { name: "microscopy", label: "Microscopy", rows: 6 },
  { name: "conclusion", label: "Conclusion", rows: 3 },
];

const panel = document.getElementById("report-panel");
const status = statusRegion("Report status");
const body = el("div", { class: "report-body" });
const page = { caseId: null, detail: null, me: null, report: null, slides: [] };

function editable() {
  const { me, detail, report } = page;
  return isPrimary(me, detail) && detail.status !== "signed_out" && report.status !== "signed";
}

function versionLine(report) {
  if (report.status === "none") return "No report saved yet.";
  if (report.status === "signed") {
    return [
      `Signed out (version ${report.version}) by ${personName(report.signed_by)} on `,
      timeElement(report.signed_at),
      ".",
    ];
  }
  return [
    `Draft, version ${report.version}, saved by ${personName(report.updated_by)} on `,
    timeElement(report.updated_at),
    ".",
  ];
}

// --- the editor -------------------------------------------------------------------------

function editor(report) {
  const texts = {};
  const fields = FIELDS.map(({ name, label, rows }) => {
    const id = `report-${name}`;
    const area = el("textarea", { id, name, rows: String(rows), maxlength: String(MAX_TEXT_CHARS) });
    area.value = report[name];
    texts[name] = area;
    const hintId = `${id}-hint`;
    const hint = name === "conclusion" ? el("p", { class: "panel-hint", id: hintId }, "Needed to sign out.") : null;
    if (hint) area.setAttribute("aria-describedby", hintId);
    return el("div", { class: "field" }, el("label", { for: id }, label), area, hint);
  });
  const codes = new DiagnosisCodes(report.diagnosis_codes);
  const conflict = el("div", { class: "report-conflict", hidden: true });
  const confirm = el("div", { class: "report-confirm", hidden: true });
  const saveButton = el("button", { type: "submit" }, "Save draft");
  const signButton = el(
    "button",
    { type: "button", class: "primary", onclick: () => askSignOut() },
    "Sign out",
  );
  const version = el("p", { class: "report-version", id: "report-version" }, ...[versionLine(report)].flat());

  function draft() {
    return {
      macroscopy: texts.macroscopy.value,
      microscopy: texts.microscopy.value,
      conclusion: texts.conclusion.value,
      diagnosis_codes: codes.value(),
    };
  }

  function changed(current) {
    const saved = page.report;
    return (
      FIELDS.some(({ name }) => current[name] !== saved[name]) ||
      JSON.stringify(current.diagnosis_codes) !==
        JSON.stringify(saved.diagnosis_codes.map(({ system, code, display }) => ({ system, code, display })))
    );
  }

  function refused(error) {
    if (error instanceof ApiError && error.status === 409) {
      conflict.replaceChildren(
        el("p", {}, `${error.message} Reload to see the report as it is now (your text here is replaced).`),
        el("button", { type: "button", onclick: () => reloadReport().catch(refused) }, "Reload the report"),
      );
      conflict.hidden = false;
    }
    say(status, problemOf(error), { error: true });
  }

  // Saves the draft if it differs from the saved one; the report as saved, or null if refused.
  async function save() {
    let current;
    try {
      current = draft();
    } catch (error) {
      say(status, problemOf(error), { error: true });
      return null;
    }
    if (!changed(current) && page.report.status !== "none") return page.report;
    try {
      const saved = await api(`/cases/${page.caseId}/report`, {
        method: "PUT",
        body: { ...current, expected_version: page.report.version },
      });
      page.report = saved;
      version.replaceChildren(...[versionLine(saved)].flat());
      conflict.hidden = true;
      say(status, `Draft saved (version ${saved.version}).`);
      if (saved.case && saved.case.status !== page.detail.status) reloadCase().catch(() => {});
      return saved;
    } catch (error) {
      refused(error);
      return null;
    }
  }

  function askSignOut() {
    if (!texts.conclusion.value.trim()) {
      say(status, "Write a conclusion before signing out.", { error: true });
      texts.conclusion.focus();
      return;
    }
    const cancel = () => {
      confirm.hidden = true;
      signButton.focus();
    };
    confirm.replaceChildren(
      el(
        "p",
        { id: "sign-out-question" },
        `Sign out case ${page.detail.accession_number}? The report is then frozen: afterwards `,
        "only addenda can be added.",
      ),
      el(
        "div",
        { class: "panel-actions", role: "group", "aria-labelledby": "sign-out-question" },
        el("button", { type: "button", class: "primary", onclick: () => signOut() }, "Confirm sign-out"),
        el("button", { type: "button", onclick: cancel }, "Cancel"),
      ),
    );
    confirm.hidden = false;
    confirm.querySelector("button").focus();
  }

  async function signOut() {
    confirm.hidden = true;
    const saved = await save();
    if (!saved) return;
    try {
      await api(`/cases/${page.caseId}/sign-out`, {
        method: "POST",
        body: { expected_report_version: saved.version },
      });
    } catch (error) {
      refused(error);
      return;
    }
    say(status, `Case ${page.detail.accession_number} is signed out.`);
    try {
      await reloadReport();
      page.detail = await reloadCase();
    } catch (error) {
      // signed, but no longer ours to read (a case of another site ends with its assignment)
      body.replaceChildren(el("p", { class: "report-version" }, "Signed out."));
      say(status, `Case ${page.detail.accession_number} is signed out; ${problemOf(error)}`);
    }
  }

  return el(
    "form",
    {
      class: "report-editor",
      "aria-label": "Report editor",
      onsubmit: (event) => {
        event.preventDefault();
        save();
      },
    },
    version,
    ...fields,
    codes.element,
    conflict,
    el("div", { class: "panel-actions" }, saveButton, signButton),
    confirm,
  );
}

// --- the report as it stands ------------------------------------------------------------

function readOnly(report) {
  const parts = [el("p", { class: "report-version", id: "report-version" }, ...[versionLine(report)].flat())];
  if (report.status === "none") return parts;
  for (const { name, label } of FIELDS) {
    parts.push(el("h3", {}, label), report[name] ? freeText(report[name]) : el("p", {}, "(empty)"));
  }
  parts.push(el("h3", {}, "Diagnosis codes"));
  if (report.diagnosis_codes.length === 0) parts.push(el("p", {}, "(none)"));
  else {
    parts.push(
      el(
        "ul",
        { class: "diagnosis-list" },
        ...report.diagnosis_codes.map((c) =>
          el("li", {}, [c.system, c.code].filter(Boolean).join(" "), c.display ? ` — ${c.display}` : ""),
        ),
      ),
    );
  }
  if (report.status === "signed") parts.push(...addenda(report));
  return parts;
}

function addenda(report) {
  const parts = [el("h3", { id: "addenda-heading" }, "Addenda")];
  if (report.addenda.length === 0) parts.push(el("p", {}, "No addenda."));
  else {
    parts.push(
      el(
        "ol",
        { class: "addendum-list", "aria-labelledby": "addenda-heading" },
        ...report.addenda.map((a) =>
          el(
            "li",
            { class: "addendum" },
            freeText(a.body),
            el("p", { class: "addendum-meta" }, `Signed by ${personName(a.signed_by)} on `, timeElement(a.signed_at)),
          ),
        ),
      ),
    );
  }
  const late = slidesAfterSignOut(report);
  if (late.length > 0) parts.push(lateSlidesNotice(late));
  if (page.me.pathologist_code) parts.push(addendumForm());
  return parts;
}

/** The slides scanned after sign-out that no addendum was signed after (yet). */
function slidesAfterSignOut(report) {
  if (page.detail.status !== "signed_out") return [];
  const lastAddendum = Math.max(-Infinity, ...report.addenda.map((a) => Date.parse(a.signed_at)));
  return page.slides.filter(
    (s) => s.after_sign_out && !s.withdrawn_at && Date.parse(s.scanned_at) > lastAddendum,
  );
}

function lateSlidesNotice(slides) {
  const names = slides.map((s) => `${s.block_label} ${s.stain}`).join(", ");
  return el(
    "p",
    { class: "notice late-slides-notice", id: "late-slides-notice" },
    `A slide was added after sign-out: consider an addendum (${names}).`,
  );
}

function addendumForm() {
  return textForm({
    fieldId: "new-addendum",
    headingId: "add-addendum-heading",
    heading: "Add addendum",
    label: "Addendum",
    submitLabel: "Add addendum",
    emptyMessage: "Write the addendum first.",
    status,
    maxChars: MAX_TEXT_CHARS,
    send: async (body) => {
      try {
        await api(`/cases/${page.caseId}/report/addenda`, { method: "POST", body: { body } });
      } catch (error) {
        say(status, `The addendum was not added: ${problemOf(error)}`, { error: true });
        return false;
      }
      await reloadReport(); // shows the report with the new addendum, and a fresh form
      say(status, "Addendum added and signed.");
      return true;
    },
  });
}

// --- start ------------------------------------------------------------------------------

function render() {
  body.replaceChildren(...(editable() ? [editor(page.report)] : readOnly(page.report)));
}

async function reloadReport() {
  page.report = await api(`/cases/${page.caseId}/report`);
  render();
}

async function start() {
  const context = await panelContext(panel);
  if (!context) return;
  Object.assign(page, {
    caseId: context.caseId,
    detail: context.detail,
    me: context.me,
    slides: context.slides,
  });
  panel.replaceChildren(el("h2", { id: "report-heading" }, "Report"), body, status);
  onCaseChanged((detail) => {
    const wasEditable = page.report && editable();
    page.detail = detail;
    if (page.report && wasEditable !== editable()) render();
  });
  try {
    await reloadReport();
  } catch (error) {
    say(status, `The report could not be read: ${problemOf(error)}`, { error: true });
  }
}

start();
