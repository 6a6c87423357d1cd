// The case page's keyboard shortcuts: one list that both handles the keys and is shown on the
// page ("Keyboard shortcuts"), so what is listed is what works.
//
// Keys act anywhere on the page except while typing (inputs, selects, text areas, editable
// text), and never when another handler already used the key (OpenSeadragon, when the viewer
// has the focus, handles its own keys and marks them used).

const shortcuts = [];

/**
 * Add a shortcut: `key` as KeyboardEvent.key (e.g. "r", "R", "+", "Escape"), `label` as the
 * table shows it, what it does, and the action.
 */
export function addShortcut({ key, keys = [key], label, description, run }) {
  shortcuts.push({ keys, label: label ?? keys.join(" or "), description, run });
}

/**
 * Shortcuts handled elsewhere that the table lists too (OpenSeadragon's own keys, a tool's keys
 * on the viewer). `after`: the label of the row to list it under, when that row is added later
 * (a tool made before the page's list); unknown or absent, it goes last.
 */
export function addListedOnly({ label, description, after = null }) {
  shortcuts.push({ keys: [], label, description, run: null, after });
}

/** The rows in the table's order: each `after` row moved under the row it names. */
function listed() {
  const rows = shortcuts.filter((shortcut) => !shortcut.after);
  for (const shortcut of shortcuts.filter((row) => row.after)) {
    const anchor = rows.findIndex((row) => row.label === shortcut.after);
    rows.splice(anchor === -1 ? rows.length : anchor + 1, 0, shortcut);
  }
  return rows;
}

function typing(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag !== "INPUT") return false;
  const type = (target.getAttribute("type") || "text").toLowerCase();
  // A range or a button takes no typed text: the page's keys still work there, except the
  // arrows, which move a slider.
  return !["button", "checkbox", "radio", "range", "submit", "reset"].includes(type);
}

function onKeyDown(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (typing(event.target)) return;
  for (const shortcut of shortcuts) {
    if (shortcut.run && shortcut.keys.includes(event.key)) {
      event.preventDefault();
      shortcut.run(event);
      return;
    }
  }
}

/** Listen for the keys and fill `tbody` with the list. */
export function installShortcuts(tbody) {
  document.addEventListener("keydown", onKeyDown);
  tbody.replaceChildren(
    ...listed().map((shortcut) => {
      const row = document.createElement("tr");
      const key = document.createElement("td");
      const kbd = document.createElement("kbd");
      kbd.textContent = shortcut.label;
      key.append(kbd);
      const does = document.createElement("td");
      does.textContent = shortcut.description;
      row.append(key, does);
      return row;
    }),
  );
}
