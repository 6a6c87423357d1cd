// The list of the slide's annotations in the annotations panel: each item focusable, with its
// class, label and author, and buttons to find it on the slide, reshape it (a region) or move
// it (a point or line), change its label and class, and delete it (after a confirmation in
// place: no browser dialog). While a point or line is moved its item holds the move's buttons,
// and its keys (annotation-move.js) work anywhere in the item.

import { el, formatDateTime } from "/static/js/api.js";
import { moveKeyAction } from "/static/js/annotation-move.js";

const TOOL_WORDS = { rectangle: "Rectangle", polygon: "Polygon", point: "Point", line: "Line" };

/**
 * `new AnnotationList({classes, mayChange, onShow, onReshape, onMove, onMoveKey, onEdit,
 * onDelete, onFocus})`; `element` goes in the panel, `show(records)` draws the items of a Map
 * of `viewer id -> {annotation, display}`. `onEdit(id, {label, class_name})` resolves true when
 * the change was saved. `onMove(id)` asks to move a point or line; while `moving` is
 * `{id, part}` (part: what moves, in words) its item shows the move, and its keys and buttons
 * go to `onMoveKey(action)` ("next-part", "save", "cancel", `{nudge}`).
 */
export class AnnotationList {
  constructor(callbacks) {
    this.callbacks = callbacks;
    this.editing = null; // the viewer id whose edit form is open
    this.moving = null; // {id, part} of the point or line being moved
    this.records = new Map();
    this.selected = new Set();
    this.heading = el("h3", { id: "annotation-list-heading" }, "On this slide");
    this.items = el("ul", { class: "annotation-list", "aria-labelledby": "annotation-list-heading" });
    this.empty = el("p", { class: "panel-empty" }, "Loading the annotations…");
    this.element = el("div", { class: "annotation-list-block" }, this.heading, this.empty, this.items);
  }

  /** Say that the annotations are being read. */
  loading() {
    this.editing = null;
    this.moving = null;
    this.empty.textContent = "Loading the annotations…";
    this.empty.hidden = false;
    this.items.replaceChildren();
  }

  /** Draw the items, oldest first; an open edit form stays open. */
  show(records) {
    this.records = records;
    const active = document.activeElement;
    const focusedId = this.items.contains(active) ? active.closest("li")?.dataset.id : null;
    const entries = [...records].sort(([, a], [, b]) => a.annotation.id - b.annotation.id);
    this.items.replaceChildren(...entries.map(([id, record]) => this.item(id, record)));
    this.empty.textContent = "No annotations on this slide yet.";
    this.empty.hidden = entries.length > 0;
    if (focusedId) {
      const again = this.items.querySelector(`li[data-id="${CSS.escape(focusedId)}"]`);
      if (again) again.focus();
    }
  }

  /** Mark the items whose shapes are selected in the viewer. */
  markSelected(ids) {
    this.selected = new Set(ids);
    for (const item of this.items.children) {
      // marked only: scrolling the page here would move the viewer under the pointer
      item.classList.toggle("is-selected", this.selected.has(item.dataset.id));
    }
  }

  item(id, { annotation, display }) {
    const titleId = `annotation-title-${annotation.id}`;
    const title = [annotation.class_name || "No class", TOOL_WORDS[display.tool] || "Shape"];
    const when = annotation.updated_at || annotation.created_at;
    const item = el(
      "li",
      {
        tabindex: "0",
        class: `annotation-item${this.selected.has(id) ? " is-selected" : ""}`,
        "data-id": id,
        "aria-labelledby": titleId,
        onfocus: (event) => {
          if (event.target === item) this.callbacks.onFocus(id);
        },
        onkeydown: (event) => this.moveKey(id, event),
      },
      el("p", { class: "annotation-title", id: titleId }, title.join(" · ")),
      el("p", { class: "annotation-label free-text" }, annotation.label || "(no label)"),
      el(
        "p",
        { class: "annotation-meta" },
        `by ${annotation.author}, `,
        el("time", { datetime: when }, formatDateTime(when)),
      ),
    );
    if (this.editing === id) {
      item.append(this.editForm(id, annotation));
    } else if (this.moving && this.moving.id === id) {
      item.append(this.moveGroup(display));
    } else {
      item.append(this.actions(id, annotation, display, item));
    }
    return item;
  }

  actions(id, annotation, display, item) {
    const buttons = [
      el("button", { type: "button", onclick: () => this.callbacks.onShow(id) }, "Show"),
    ];
    if (this.callbacks.mayChange(annotation)) {
      if (display.editableShape) {
        const reshape = () => this.callbacks.onReshape(id);
        buttons.push(el("button", { type: "button", onclick: reshape }, "Reshape"));
      }
      if (display.movableMark) {
        const move = () => this.callbacks.onMove(id);
        buttons.push(el("button", { type: "button", onclick: move }, "Move"));
      }
      const edit = () => {
        this.editing = id;
        const form = this.editForm(id, annotation);
        row.replaceWith(form);
        form.querySelector("input").focus();
      };
      buttons.push(
        el("button", { type: "button", onclick: edit }, "Edit"),
        el(
          "button",
          {
            type: "button",
            class: "danger",
            onclick: () => this.confirmDelete(id, row, item),
          },
          "Delete",
        ),
      );
    }
    const row = el("div", { class: "annotation-actions" }, ...buttons);
    return row;
  }

  // The buttons of a move in progress; focused, the group takes the keys (Enter saves).
  moveGroup(display) {
    const act = (action) => () => this.callbacks.onMoveKey(action);
    const buttons = [];
    if (display.marks[0].type === "line") {
      buttons.push(el("button", { type: "button", onclick: act("next-part") }, "Next part (E)"));
    }
    buttons.push(
      el("button", { type: "button", class: "primary", onclick: act("save") }, "Save position"),
      el("button", { type: "button", onclick: act("cancel") }, "Cancel move"),
    );
    return el(
      "div",
      {
        class: "annotation-actions annotation-move",
        role: "group",
        "aria-label": "Move annotation",
        "aria-describedby": "annotation-move-keys",
        tabindex: "-1",
      },
      el("span", { class: "annotation-move-part" }, `Moving ${this.moving.part}`),
      ...buttons,
      el(
        "p",
        { class: "panel-hint", id: "annotation-move-keys" },
        "Drag it in the viewer, or use the arrow keys here (Shift: further); " +
          "Enter saves, Esc cancels.",
      ),
    );
  }

  /** Show that `part` (in words) of the annotation being moved moves now. */
  showMovePart(part) {
    if (!this.moving) return;
    this.moving.part = part;
    const shown = this.items.querySelector(".annotation-move-part");
    if (shown) shown.textContent = `Moving ${part}`;
  }

  /** Put the focus on the buttons of the move in progress (its keys work there). */
  focusMove() {
    this.items.querySelector('[role="group"][aria-label="Move annotation"]')?.focus();
  }

  moveKey(id, event) {
    if (!this.moving || this.moving.id !== id) return;
    const action = moveKeyAction(event);
    if (!action) return;
    // Enter on one of the move's buttons is that button's (Cancel move cancels)
    if (action === "save" && event.target instanceof HTMLButtonElement) return;
    event.preventDefault(); // no page scroll, and the page's Esc leaves the tools alone
    this.callbacks.onMoveKey(action);
  }

  confirmDelete(id, row, item) {
    const cancel = () => {
      question.replaceWith(row);
      item.focus();
    };
    const question = el(
      "div",
      { class: "annotation-actions confirm", role: "group", "aria-label": "Confirm deletion" },
      el("span", {}, "Delete this annotation?"),
      el(
        "button",
        {
          type: "button",
          class: "danger",
          onclick: () => this.callbacks.onDelete(id),
        },
        "Confirm delete",
      ),
      el("button", { type: "button", onclick: cancel }, "Cancel"),
    );
    row.replaceWith(question);
    question.querySelector("button").focus();
  }

  editForm(id, annotation) {
    const labelId = `annotation-edit-label-${annotation.id}`;
    const classId = `annotation-edit-class-${annotation.id}`;
    const label = el("input", {
      id: labelId,
      type: "text",
      maxlength: "200",
      autocomplete: "off",
    });
    label.value = annotation.label;
    const classes = this.callbacks.classes();
    const choice = el(
      "select",
      { id: classId },
      ...classes.map((name) => el("option", { value: name }, name)),
      el("option", { value: "" }, "(no class)"),
    );
    if (annotation.class_name && !classes.includes(annotation.class_name)) {
      // a class no longer configured stays what it is unless changed
      choice.prepend(el("option", { value: annotation.class_name }, annotation.class_name));
    }
    choice.value = annotation.class_name;
    const form = el(
      "form",
      {
        class: "annotation-edit",
        "aria-label": "Edit annotation",
        onsubmit: async (event) => {
          event.preventDefault();
          this.editing = null; // the list drawn after the save shows the item again
          const change = { label: label.value.trim(), class_name: choice.value };
          if (!(await this.callbacks.onEdit(id, change))) {
            // refused: the form again, with the values read now (none if it is read-only now)
            if (this.callbacks.mayChange(annotation)) this.editing = id;
            this.show(this.records);
          }
          this.items.querySelector(`li[data-id="${CSS.escape(id)}"]`)?.focus();
        },
      },
      el("div", { class: "field" }, el("label", { for: labelId }, "Label"), label),
      el("div", { class: "field" }, el("label", { for: classId }, "Class"), choice),
      el(
        "div",
        { class: "annotation-actions" },
        el("button", { type: "submit", class: "primary" }, "Save"),
        el(
          "button",
          {
            type: "button",
            onclick: () => {
              this.editing = null;
              this.show(this.records);
              this.items.querySelector(`li[data-id="${CSS.escape(id)}"]`)?.focus();
            },
          },
          "Cancel",
        ),
      ),
    );
    return form;
  }
}
