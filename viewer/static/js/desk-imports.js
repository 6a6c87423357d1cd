// Import queue (lab managers and admins): GET /imports?status=..., and per waiting file a form
// to link it to a case (looked up by accession number, optional block and stain:
// POST /imports/{id}/link) or to discard it with a note (POST /imports/{id}/discard).

import { api, el, formatDateTime } from "/static/js/api.js";
import { mountHeader } from "/static/js/header.js";
import { allItems } from "/static/js/panel-kit.js";

const PROBLEMS = {
  no_case: "No matching case",
  bad_name: "Name without accession number",
  not_a_slide: "Not a slide file",
  unreadable: "Unreadable",
  too_large: "Too large",
  quota: "Department over its disk quota",
  wrong_department: "Another department's folder",
  unknown_block: "Unknown block",
  unknown_department_folder: "Unknown department folder",
  incomplete_series: "Incomplete series",
  post_sign_out: "Slide after sign-out",
  registration_failed: "Registration failed",
  unknown: "Refused",
};
const EMPTY = {
  open: "No file is waiting: every scanner file was imported.",
  flagged: "No slide arrived after its case was signed out.",
  linked: "No file has been linked to a case yet.",
  discarded: "No file has been discarded.",
  all: "The import queue has never held a file.",
};

const $ = (id) => document.getElementById(id);
const picker = $("queue-status");
const status = $("imports-status");
const errorRegion = $("imports-error");
const table = $("imports-table");
const body = $("imports-body");
const empty = $("imports-empty");

function field(id, label, attributes = {}) {
  return el(
    "span",
    { class: "import-field" },
    el("label", { for: id }, label),
    el("input", { id, type: "text", autocomplete: "off", ...attributes }),
  );
}

function decisionFor(item) {
  if (item.status !== "open") {
    const who = item.resolved_by ? ` by ${item.resolved_by}` : "";
    const text = item.status === "flagged" ? `Registered as slide ${item.slide_id}` : item.status;
    return el("span", {}, `${text}${who}`, item.resolution_note ? ` — ${item.resolution_note}` : "");
  }
  const id = item.id;
  const linkForm = el(
    "form",
    { class: "import-form", "aria-label": `Link ${item.file_name}` },
    field(`case-${id}`, "Case accession number", {
      required: true,
      value: item.accession_number || "",
    }),
    field(`block-${id}`, "Block (optional)", { size: 4 }),
    field(`stain-${id}`, "Stain (optional)", { size: 6 }),
    el("button", { type: "submit", class: "primary" }, "Link"),
  );
  linkForm.addEventListener("submit", (event) => {
    event.preventDefault();
    link(item, linkForm);
  });
  const discardForm = el(
    "form",
    { class: "import-form", "aria-label": `Discard ${item.file_name}` },
    field(`note-${id}`, "Why discard", { required: true, maxlength: 500 }),
    el("button", { type: "submit" }, "Discard"),
  );
  discardForm.addEventListener("submit", (event) => {
    event.preventDefault();
    discard(item, discardForm);
  });
  return el("div", { class: "import-decision" }, linkForm, discardForm);
}

async function busy(form, work) {
  const buttons = form.querySelectorAll("button");
  buttons.forEach((b) => (b.disabled = true));
  errorRegion.textContent = "";
  try {
    await work();
    await load();
  } catch (error) {
    errorRegion.textContent = error.message || String(error);
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

function link(item, form) {
  return busy(form, async () => {
    const accession = $(`case-${item.id}`).value.trim().toUpperCase();
    const block = $(`block-${item.id}`).value.trim();
    const stain = $(`stain-${item.id}`).value.trim();
    status.textContent = `Linking ${item.file_name} to ${accession}…`;
    const found = await api(`/cases/by-accession/${encodeURIComponent(accession)}`);
    const request = { case_id: found.id };
    if (block) request.block_label = block;
    if (stain) request.stain = stain;
    await api(`/imports/${item.id}/link`, { method: "POST", body: request });
    status.textContent = `${item.file_name} linked to ${accession}.`;
  });
}

function discard(item, form) {
  return busy(form, async () => {
    const note = $(`note-${item.id}`).value.trim();
    await api(`/imports/${item.id}/discard`, { method: "POST", body: { note } });
    status.textContent = `${item.file_name} discarded.`;
  });
}

function row(item) {
  return el(
    "tr",
    { "data-import-id": item.id },
    el("th", { scope: "row" }, item.file_name),
    el("td", {}, item.folder),
    el("td", {}, PROBLEMS[item.problem] || item.problem || ""),
    el("td", { class: "import-reason" }, item.reason),
    el("td", {}, formatDateTime(item.seen_at)),
    el("td", {}, decisionFor(item)),
  );
}

async function load() {
  const wanted = picker.value;
  const items = await allItems(`/imports?status=${encodeURIComponent(wanted)}`);
  body.replaceChildren(...items.map(row));
  table.hidden = items.length === 0;
  empty.hidden = items.length !== 0;
  empty.textContent = EMPTY[wanted] || "";
  const count = `${items.length} file${items.length === 1 ? "" : "s"}`;
  if (!status.textContent || status.textContent.startsWith("Loading") || status.textContent.endsWith("shown.")) {
    status.textContent = `${count} shown.`;
  }
}

picker.addEventListener("change", () => {
  status.textContent = "Loading the import queue…";
  errorRegion.textContent = "";
  load().catch((error) => (errorRegion.textContent = error.message || String(error)));
});

mountHeader("desk-imports");
load().catch((error) => {
  status.textContent = "";
  errorRegion.textContent = error.message || String(error);
});
