// The drawing part of the annotations panel: the tool bar (rectangle, polygon, point, line),
// the hint for the tool chosen, "Place point at centre" for a keyboard user, and the class and
// label that new annotations get. Which tool has the pointer is the panel's business
// (annotations.js): this module only shows the choice and reports it.

import { el } from "/static/js/api.js";
import { TOOLS } from "/static/js/annotation-geometry.js";

const TOOL_NAMES = { rectangle: "Rectangle", polygon: "Polygon", point: "Point", line: "Line" };
const TOOL_HINTS = {
  rectangle: "Drag on the slide to draw a rectangle.",
  polygon: "Click on the slide at each corner; click the first corner again, or double-click, to close it.",
  point: "Click on the slide to place a point, or use “Place point at centre”.",
  line: "Drag on the slide from one end of the line to the other.",
};
const NO_TOOL_HINT = "Choose a tool to draw; choose it again to stop drawing.";

/**
 * `new DrawingTools({onChoose, onCentrePoint})`: `element` goes in the panel; a press on a tool
 * button calls `onChoose(tool or null)` (the same tool again: null, stop drawing), and the
 * panel answers with `show(tool)`. `fillClasses(names)` offers the configured classes;
 * `newAnnotationBody()` is the class and label a new annotation is saved with.
 */
export class DrawingTools {
  constructor({ onChoose, onCentrePoint }) {
    this.tool = null;
    this.buttons = new Map();
    this.hint = el("p", { class: "panel-hint", id: "annotation-tool-hint" });
    this.centrePoint = el(
      "button",
      { type: "button", hidden: true, onclick: () => onCentrePoint() },
      "Place point at centre",
    );
    this.classSelect = el("select", { id: "new-annotation-class", name: "class_name" });
    this.labelInput = el("input", {
      id: "new-annotation-label",
      name: "label",
      type: "text",
      maxlength: "200",
      autocomplete: "off",
    });
    const toolbar = el("div", {
      role: "toolbar",
      "aria-label": "Drawing tools",
      "aria-describedby": "annotation-tool-hint",
      class: "annotation-tools",
    });
    for (const tool of TOOLS) {
      const button = el(
        "button",
        {
          type: "button",
          class: "tool-button",
          "aria-pressed": "false",
          onclick: () => onChoose(this.tool === tool ? null : tool),
        },
        TOOL_NAMES[tool],
      );
      this.buttons.set(tool, button);
      toolbar.append(button);
    }
    this.element = el(
      "div",
      { class: "annotation-drawing" },
      toolbar,
      this.hint,
      this.centrePoint,
      el(
        "div",
        { class: "field" },
        el("label", { for: "new-annotation-class" }, "Class of new annotations"),
        this.classSelect,
      ),
      el(
        "div",
        { class: "field" },
        el("label", { for: "new-annotation-label" }, "Label of new annotations"),
        this.labelInput,
      ),
    );
    this.show(null);
  }

  /** Show `tool` ("rectangle", "polygon", "point", "line" or null) as the one chosen. */
  show(tool) {
    this.tool = tool;
    this.hint.textContent = tool ? TOOL_HINTS[tool] : NO_TOOL_HINT;
    this.centrePoint.hidden = tool !== "point";
    for (const [name, button] of this.buttons) {
      button.setAttribute("aria-pressed", String(name === tool));
    }
  }

  /** Offer the configured classes, then "(no class)". */
  fillClasses(names) {
    const options = names.map((name) => el("option", { value: name }, name));
    this.classSelect.replaceChildren(...options, el("option", { value: "" }, "(no class)"));
  }

  /** The class chosen for new annotations ("" for none). */
  get className() {
    return this.classSelect.value;
  }

  /** The label and class a new annotation is saved with. */
  newAnnotationBody() {
    return { label: this.labelInput.value.trim(), class_name: this.classSelect.value };
  }

  /** Hide the tools (no slide, or a signed-out case) or show them again. */
  set hidden(hidden) {
    this.element.hidden = hidden;
  }
}
