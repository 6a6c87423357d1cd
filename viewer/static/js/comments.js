// The case's comments (author, time, text, oldest first) and a form to add one. The text is
// shown as typed, as text: never as HTML.

import { api, el } from "/static/js/api.js";
import { caseReady, firstTileShown } from "/static/js/case.js";
import { allItems, freeText, problemOf, say, statusRegion, timeElement } from "/static/js/panel-kit.js";

const MAX_COMMENT_CHARS = 10_000; // the API's limit

const panel = document.getElementById("comments-panel");
const list = el("ol", { class: "comment-list", "aria-labelledby": "comments-heading" });
const empty = el("p", { class: "panel-empty" }, "Loading the comments…");
const status = statusRegion("Comment status");
const field = el("textarea", {
  id: "new-comment",
  name: "body",
  rows: "3",
  maxlength: String(MAX_COMMENT_CHARS),
  required: true,
});
const submit = el("button", { type: "submit", class: "primary" }, "Add comment");

function commentItem(comment) {
  return el(
    "li",
    { class: "comment" },
    el(
      "p",
      { class: "comment-meta" },
      el("span", { class: "comment-author" }, comment.author),
      " · ",
      timeElement(comment.created_at),
    ),
    freeText(comment.body, { class: "comment-body" }),
  );
}

function show(comments) {
  list.replaceChildren(...comments.map(commentItem));
  empty.textContent = "No comments yet.";
  empty.hidden = comments.length > 0;
}

async function add(caseId) {
  const body = field.value;
  if (!body.trim()) {
    say(status, "Write the comment first.", { error: true });
    field.focus();
    return;
  }
  submit.disabled = true;
  try {
    const comment = await api(`/cases/${caseId}/comments`, { method: "POST", body: { body } });
    list.append(commentItem(comment));
    empty.hidden = true;
    field.value = "";
    say(status, "Comment added.");
  } catch (error) {
    say(status, `The comment was not added: ${problemOf(error)}`, { error: true });
  } finally {
    submit.disabled = false;
  }
}

async function start() {
  let context;
  try {
    context = await caseReady;
  } catch {
    panel.hidden = true; // the case page says why the case cannot be shown
    return;
  }
  await firstTileShown; // tissue first: see case.js
  const { caseId } = context;
  const form = el(
    "form",
    {
      class: "panel-form",
      "aria-labelledby": "add-comment-heading",
      onsubmit: (event) => {
        event.preventDefault();
        add(caseId);
      },
    },
    el("h3", { id: "add-comment-heading" }, "Add comment"),
    el("div", { class: "field" }, el("label", { for: "new-comment" }, "Comment"), field),
    submit,
    status,
  );
  panel.replaceChildren(el("h2", { id: "comments-heading" }, "Comments"), empty, list, form);
  try {
    show(await allItems(`/cases/${caseId}/comments`));
  } catch (error) {
    empty.textContent = "";
    say(status, `The comments could not be read: ${problemOf(error)}`, { error: true });
  }
}

start();
