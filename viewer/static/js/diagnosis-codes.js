// The report's diagnosis codes: rows of system (e.g. PALGA, SNOMED CT), code and display
// text, stored as given; rows are added and removed with buttons, each row a labelled group.

import { el } from "/static/js/api.js";

const MAX_CODES = 50; // the API's limit
const MAX_CODE_CHARS = 64;
const MAX_DISPLAY_CHARS = 500;
const SYSTEMS_LIST_ID = "diagnosis-code-systems";
let rowsMade = 0; // ids stay unique across renders

/** `new DiagnosisCodes(codes)`: `element` for the form, `value()` the codes typed. */
export class DiagnosisCodes {
  constructor(codes) {
    this.rows = el("div", { class: "diagnosis-rows" });
    this.addButton = el(
      "button",
      { type: "button", onclick: () => this.add({}, { focus: true }) },
      "Add diagnosis code",
    );
    this.element = el(
      "fieldset",
      { class: "diagnosis-codes" },
      el("legend", {}, "Diagnosis codes"),
      el(
        "datalist",
        { id: SYSTEMS_LIST_ID },
        el("option", { value: "PALGA" }),
        el("option", { value: "SNOMED CT" }),
      ),
      this.rows,
      this.addButton,
    );
    for (const code of codes) this.add(code);
    this.renumber();
  }

  add({ system = "", code = "", display = "" }, { focus = false } = {}) {
    if (this.rows.childElementCount >= MAX_CODES) return;
    const n = ++rowsMade;
    const input = (name, value, maxlength, extra = {}) => {
      const field = el("input", {
        id: `diagnosis-${name}-${n}`,
        type: "text",
        maxlength: String(maxlength),
        autocomplete: "off",
        ...extra,
      });
      field.value = value;
      return field;
    };
    const systemInput = input("system", system, MAX_CODE_CHARS, { list: SYSTEMS_LIST_ID });
    const codeInput = input("code", code, MAX_CODE_CHARS);
    const displayInput = input("display", display, MAX_DISPLAY_CHARS);
    const legend = el("legend", {});
    const remove = el("button", { type: "button" }, "Remove");
    const row = el(
      "fieldset",
      { class: "diagnosis-row" },
      legend,
      el("div", { class: "field" }, el("label", { for: systemInput.id }, "System"), systemInput),
      el("div", { class: "field" }, el("label", { for: codeInput.id }, "Code"), codeInput),
      el("div", { class: "field" }, el("label", { for: displayInput.id }, "Display text"), displayInput),
      remove,
    );
    row.inputs = { system: systemInput, code: codeInput, display: displayInput };
    remove.addEventListener("click", () => {
      row.remove();
      this.renumber();
      this.addButton.focus();
    });
    this.rows.append(row);
    this.renumber();
    if (focus) systemInput.focus();
  }

  // "Diagnosis 1", "Remove diagnosis 1": names that say which row a control is in.
  renumber() {
    [...this.rows.children].forEach((row, index) => {
      row.querySelector("legend").textContent = `Diagnosis ${index + 1}`;
      row.querySelector("button").textContent = `Remove diagnosis ${index + 1}`;
    });
    this.addButton.disabled = this.rows.childElementCount >= MAX_CODES;
  }

  /** The codes typed, empty rows left out; RangeError for a row with text but no code. */
  value() {
    const codes = [];
    [...this.rows.children].forEach((row, index) => {
      const system = row.inputs.system.value.trim();
      const code = row.inputs.code.value.trim();
      const display = row.inputs.display.value.trim();
      if (!system && !code && !display) return;
      if (!code) {
        row.inputs.code.focus();
        throw new RangeError(`diagnosis ${index + 1} needs a code`);
      }
      codes.push({ system, code, display });
    });
    return codes;
  }
}
