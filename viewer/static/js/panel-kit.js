// What the case page's side panels (annotations, comments, consults, report) share: reading a
// whole list page by page, a live region for what happened, and how people and times read.

import { api, ApiError, el, formatDateTime } from "/static/js/api.js";

const PAGE_LIMIT = 200; // the API's largest page: few round trips on a slow link

/** Every item of a paged list (`{items, next}`), following its cursors. */
export async function allItems(path) {
  const items = [];
  let cursor = null;
  do {
    const query = new URLSearchParams({ limit: String(PAGE_LIMIT) });
    if (cursor) query.set("cursor", cursor);
    const separator = path.includes("?") ? "&" : "?";
    const page = await api(`${path}${separator}${query}`);
    items.push(...page.items);
    cursor = page.next;
  } while (cursor);
  return items;
}

/** What went wrong, as a sentence for the page. */
export function problemOf(error) {
  if (error instanceof ApiError) return error.message;
  if (error instanceof RangeError) return `${error.message[0].toUpperCase()}${error.message.slice(1)}.`;
  return "Something went wrong on this page; reload it and try again.";
}

/** A polite live region for a panel: `say(region, text)` or `say(region, text, {error: true})`. */
export function statusRegion(label) {
  return el("p", { role: "status", class: "panel-status", "aria-label": label });
}

/** Put `message` in `region`; an error is marked as one (colour and a prefix for readers). */
export function say(region, message, { error = false } = {}) {
  region.classList.toggle("is-error", error);
  region.textContent = error && message ? `Problem: ${message}` : message;
}

/** A pathologist as people know them: "Dr. A. de Vries (ALR-01)". */
export function personName(person) {
  if (!person) return "";
  const name = person.display_name || person.name || "";
  const code = person.pathologist_code;
  return code && name ? `${name} (${code})` : name || code || "";
}

/** A `<time>` element showing an API date-time as people read it. */
export function timeElement(iso) {
  return el("time", { datetime: iso }, formatDateTime(iso));
}

/** A block of free text from a user: kept as typed (line breaks too), always as text. */
export function freeText(text, attributes = {}) {
  return el("p", { ...attributes, class: `free-text ${attributes.class || ""}`.trim() }, text);
}

/** Whether `me` is the case's primary pathologist. */
export function isPrimary(me, detail) {
  return Boolean(me.pathologist_code) && me.pathologist_code === detail.primary_pathologist_code;
}

/**
 * A form of one free-text field: its heading, the labelled textarea and the submit button.
 * An empty text is refused on the page (`emptyMessage` in `status`); otherwise `send(text)`
 * runs with the button disabled and says itself what happened; the text is cleared when it
 * answers true. `intro`: elements shown between the heading and the field.
 */
export function textForm({ fieldId, headingId, heading, label, submitLabel, emptyMessage, status, send, maxChars, rows = 3, intro = [] }) {
  const text = el("textarea", {
    id: fieldId,
    name: "text",
    rows: String(rows),
    maxlength: String(maxChars),
    required: true,
  });
  const submit = el("button", { type: "submit", class: "primary" }, submitLabel);
  const onsubmit = async (event) => {
    event.preventDefault();
    if (!text.value.trim()) {
      say(status, emptyMessage, { error: true });
      text.focus();
      return;
    }
    submit.disabled = true;
    try {
      if (await send(text.value)) text.value = "";
    } finally {
      submit.disabled = false;
    }
  };
  return el(
    "form",
    { class: "panel-form", "aria-labelledby": headingId, onsubmit },
    el("h3", { id: headingId }, heading),
    ...intro,
    el("div", { class: "field" }, el("label", { for: fieldId }, label), text),
    submit,
  );
}
