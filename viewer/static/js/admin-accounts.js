// Accounts (administrators): the list (GET /users, disabled ones on request), create
// (POST /users), disable / re-enable and reset a password (PATCH /users/{id}), end sessions
// (DELETE /users/{id}/sessions). The API's refusals (a weak password, a taken name) are shown.

import { api, currentUser, el } from "/static/js/api.js";
import { mountHeader, roleName } from "/static/js/header.js";

const PAGE_LIMIT = 200;
const $ = (id) => document.getElementById(id);
const status = $("accounts-status");
const errorRegion = $("accounts-error");
const result = $("accounts-result");
const showDisabled = $("show-disabled");
const dialog = $("reset-dialog");
let resetting = null;
let myId = null; // the signed-in admin: no Disable button on their own row (no lock-out)

function say(message) {
  errorRegion.textContent = "";
  result.textContent = message;
}

function showError(error) {
  result.textContent = "";
  errorRegion.textContent = error.message || String(error);
}

async function allAccounts() {
  const items = [];
  let cursor = null;
  do {
    const query = new URLSearchParams({ limit: String(PAGE_LIMIT) });
    if (showDisabled.checked) query.set("include_disabled", "true");
    if (cursor) query.set("cursor", cursor);
    const page = await api(`/users?${query}`);
    items.push(...page.items);
    cursor = page.next;
  } while (cursor);
  return items;
}

async function act(button, work, message) {
  button.disabled = true;
  try {
    await work();
    say(message);
    await load();
  } catch (error) {
    button.disabled = false;
    showError(error);
  }
}

function actions(account) {
  const who = account.username;
  const toggle = el(
    "button",
    { type: "button", "aria-label": `${account.active ? "Disable" : "Enable"} ${who}` },
    account.active ? "Disable" : "Enable",
  );
  toggle.addEventListener("click", () =>
    act(
      toggle,
      () => api(`/users/${account.id}`, { method: "PATCH", body: { active: !account.active } }),
      account.active ? `${who} is disabled; their sessions ended.` : `${who} is enabled again.`,
    ),
  );
  const reset = el(
    "button",
    { type: "button", "aria-label": `Reset password of ${who}` },
    "Reset password",
  );
  reset.addEventListener("click", () => openReset(account));
  const end = el(
    "button",
    { type: "button", "aria-label": `End sessions of ${who}` },
    "End sessions",
  );
  end.addEventListener("click", () =>
    act(
      end,
      () => api(`/users/${account.id}/sessions`, { method: "DELETE" }),
      `The sessions of ${who} are ended; they must sign in again.`,
    ),
  );
  const own = account.id === myId;
  return el("div", { class: "account-actions" }, own ? null : toggle, reset, end);
}

function render(accounts) {
  const rows = accounts.map((account) =>
    el(
      "tr",
      { class: account.active ? null : "disabled" },
      el("th", { scope: "row" }, account.username),
      el("td", {}, account.display_name),
      el("td", {}, roleName(account.role)),
      el("td", {}, account.department_code || "—"),
      el("td", {}, account.pathologist_code || "—"),
      el("td", {}, account.active ? "Active" : "Disabled"),
      el("td", {}, actions(account)),
    ),
  );
  $("accounts-body").replaceChildren(...rows);
  $("accounts-table").hidden = rows.length === 0;
  status.textContent = rows.length === 0 ? "No accounts to show." : `${rows.length} accounts.`;
}

async function load() {
  status.textContent = "Loading the accounts…";
  try {
    render(await allAccounts());
  } catch (error) {
    status.textContent = "";
    showError(error);
  }
}

function openReset(account) {
  resetting = account;
  $("reset-who").textContent = `A new password for ${account.username} (${account.display_name}).`;
  $("reset-password").value = "";
  $("reset-error").textContent = "";
  dialog.showModal();
}

$("reset-cancel").addEventListener("click", () => dialog.close());

$("reset-form").addEventListener("submit", async (event) => {
  event.preventDefault(); // stay open until the API accepts the password
  const account = resetting;
  const button = event.submitter;
  button.disabled = true;
  try {
    await api(`/users/${account.id}`, {
      method: "PATCH",
      body: { password: $("reset-password").value },
    });
    dialog.close();
    say(`The password of ${account.username} is reset; their sessions ended.`);
    await load();
  } catch (error) {
    $("reset-error").textContent = error.message || String(error);
  } finally {
    button.disabled = false;
  }
});

$("create-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = {
    username: $("new-username").value.trim(),
    display_name: $("new-display-name").value.trim(),
    role: $("new-role").value,
    password: $("new-password").value,
  };
  if ($("new-department").value) body.department_code = $("new-department").value;
  const pathologist = $("new-pathologist").value.trim();
  if (pathologist) body.pathologist_code = pathologist;
  const button = event.submitter;
  button.disabled = true;
  try {
    const made = await api("/users", { method: "POST", body });
    event.target.reset();
    say(`Created ${made.username} (${roleName(made.role)}).`);
    await load();
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
});

showDisabled.addEventListener("change", load);

async function start() {
  await mountHeader("admin-accounts");
  try {
    myId = (await currentUser()).id;
    const departments = await api(`/departments?limit=${PAGE_LIMIT}`);
    $("new-department").append(
      ...departments.items.map((d) => el("option", { value: d.code }, `${d.name} (${d.code})`)),
    );
  } catch (error) {
    showError(error);
  }
  await load();
}

start();
