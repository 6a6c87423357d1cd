// The case's comments (author, time, text, oldest first) and a form to add one. The text is
// shown as typed, as text: never as HTML.

import { api, el } from "/static/js/api.js";
import { panelContext } from "/static/js/case-panel.js";
import {
  allItems,
  freeText,
  problemOf,
  say,
  statusRegion,
  textForm,
  timeElement,
} from "/static/js/panel-kit.js";

const MAX_COMMENT_CHARS = 10_000; // the API's limit

const panel = document.getElementById("comments-panel");
const list = el("ol", { class: "comment-list", "aria-labelledby": "comments-heading" });
const empty = el("p", { class: "panel-empty" }, "Loading the comments…");
const status = statusRegion("Comment status");

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

async function add(caseId, body) {
  try {
    const comment = await api(`/cases/${caseId}/comments`, { method: "POST", body: { body } });
    list.append(commentItem(comment));
    empty.hidden = true;
    say(status, "Comment added.");
    return true;
  } catch (error) {
    say(status, `The comment was not added: ${problemOf(error)}`, { error: true });
    return false;
  }
}

async function start() {
  const context = await panelContext(panel);
  if (!context) return;
  const { caseId } = context;
  const form = textForm({
    fieldId: "new-comment",
    headingId: "add-comment-heading",
    heading: "Add comment",
    label: "Comment",
    submitLabel: "Add comment",
    emptyMessage: "Write the comment first.",
    status,
    maxChars: MAX_COMMENT_CHARS,
    send: (body) => add(caseId, body),
  });
  form.append(status);
  panel.replaceChildren(el("h2", { id: "comments-heading" }, "Comments"), empty, list, form);
  try {
    show(await allItems(`/cases/${caseId}/comments`));
  } catch (error) {
    empty.textContent = "";
    say(status, `The comments could not be read: ${problemOf(error)}`, { error: true });
  }
}

start();
