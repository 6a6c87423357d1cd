// The sign-in page: username and password to POST /auth/login (which sets the session cookie
// and the CSRF cookie), then on to `next` (a path of this site only) or the worklist.

import { ApiError, api, safeNextPath } from "/static/js/api.js";

const form = document.getElementById("sign-in-form");
const username = document.getElementById("username");
const password = document.getElementById("password");
const error = document.getElementById("sign-in-error");
const notice = document.getElementById("sign-in-notice");
const submit = form.querySelector("button[type=submit]");

const next = safeNextPath(new URLSearchParams(location.search).get("next"));
if (next !== "/") {
  notice.textContent = "Sign in to go back to the page you were on.";
}

/** "in 5 minutes (at 14:32)" for a wait of `seconds`. */
function whenToRetry(seconds) {
  const at = new Date(Date.now() + seconds * 1000).toLocaleTimeString("en-GB", {
    hour: "2-digit",
    minute: "2-digit",
  });
  if (seconds < 60) return `in ${seconds} seconds (at ${at})`;
  const minutes = Math.ceil(seconds / 60);
  return `in ${minutes} minute${minutes === 1 ? "" : "s"} (at ${at})`;
}

function messageFor(failure) {
  if (!(failure instanceof ApiError)) return "Signing in failed; try again.";
  if (failure.status === 401) {
    return "Wrong username or password. Check both and try again.";
  }
  if (failure.status === 429) {
    const wait = failure.retryAfterS;
    return wait === null
      ? "Too many failed sign-ins for this account. Wait a few minutes, then try again."
      : `Too many failed sign-ins for this account. Try again ${whenToRetry(wait)}.`;
  }
  return failure.message;
}

function showError(message, field) {
  error.textContent = message;
  for (const input of [username, password]) {
    input.setAttribute("aria-invalid", String(input === field || field === null));
  }
  (field ?? password).focus();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = username.value.trim();
  if (!name) return showError("Enter your username.", username);
  if (!password.value) return showError("Enter your password.", password);
  error.textContent = "";
  submit.disabled = true;
  form.setAttribute("aria-busy", "true");
  try {
    await api("/auth/login", {
      method: "POST",
      body: { username: name, password: password.value },
      signIn: false,
    });
    location.assign(next);
  } catch (failure) {
    password.value = "";
    showError(messageFor(failure), failure?.status === 401 ? null : password);
    password.focus();
  } finally {
    submit.disabled = false;
    form.removeAttribute("aria-busy");
  }
});
