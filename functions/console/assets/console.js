// The console's shell: sign-in, the views by their #/name?query address, sign-out, and the way back to the
// sign-in when the API says the session is over.

import { ApiError, SessionExpired, config, currentUser, endSession, setNewPassword, signIn } from "./api.js";
import { problem } from "./common.js";
import { h } from "./dom.js";
import * as activity from "./activity.js";
import * as admin from "./admin.js";
import * as budgets from "./budgets.js";
import * as overview from "./overview.js";
import * as recommendations from "./recommendations.js";
import * as workforce from "./workforce.js";

const VIEWS = { overview, budgets, recommendations, workforce, activity, admin };
const DEFAULT_VIEW = "overview";
const byId = (id) => document.getElementById(id);

let rendering = 0;
let challenge = null;

function route() {
  const hash = location.hash.startsWith("#/") ? location.hash.slice(2) : "";
  const [name, query] = hash.split("?");
  return { name: VIEWS[name] ? name : DEFAULT_VIEW, params: new URLSearchParams(query || "") };
}

function address(name, values) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values || {})) {
    if (value !== undefined && value !== null && value !== "") params.set(key, value);
  }
  const query = params.toString();
  return `#/${name}${query ? `?${query}` : ""}`;
}

function navigate(name, values) {
  const target = address(name, values);
  if (location.hash === target) render(true);
  else location.hash = target;
}

function showSignIn(message) {
  byId("loading").hidden = true;
  byId("nav").hidden = true;
  byId("who").hidden = true;
  byId("view").replaceChildren();
  byId("view").hidden = true;
  byId("sign-in").hidden = false;
  byId("sign-in-form").hidden = Boolean(challenge);
  byId("new-password-form").hidden = !challenge;
  byId("sign-in-problem").textContent = message || "";
  if (!config.cognitoEndpoint || !config.clientId) {
    byId("sign-in-problem").textContent = "This stage's console has no Cognito endpoint or app client configured.";
  }
  document.title = "Sign in · Cost & Metrics console";
  (challenge ? byId("new-password") : byId("username")).focus();
}

function showShell(user) {
  byId("loading").hidden = true;
  byId("sign-in").hidden = true;
  byId("view").hidden = false;
  byId("nav").hidden = !user.canRead;
  byId("who").hidden = false;
  const role = user.isAdmin ? "admin" : user.groups.has("viewer") ? "viewer" : [...user.groups].join(", ") || "no group";
  byId("who-name").textContent = `${user.name} · ${user.workspace || "no workspace"} · ${role}`;
  const adminLink = document.querySelector('#nav a[data-view="admin"]');
  adminLink.textContent = user.isAdmin ? "Admin" : "Agents and prices";
}

function expired(message) {
  endSession();
  challenge = null;
  showSignIn(message || new SessionExpired().message);
}

async function render(focus) {
  const user = currentUser();
  if (!user) {
    showSignIn();
    return;
  }
  showShell(user);
  const view = byId("view");
  if (!user.canRead) {
    view.dataset.rendered = String(++rendering);
    view.replaceChildren(
      h("h1", { tabindex: "-1" }, "Nothing to show"),
      h(
        "p",
        { class: "problem", role: "alert" },
        "Your user is in neither the admin nor the viewer group of its workspace, so the API shows it no " +
          "figures (an ingest user may only send events). Ask an administrator of the user pool for the viewer group.",
      ),
    );
    return;
  }
  const { name, params } = route();
  const module = VIEWS[name];
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const ticket = ++rendering;
  view.setAttribute("aria-busy", "true");
  view.replaceChildren(h("p", { class: "loading", role: "status" }, `Loading ${module.title}…`));
  const fresh = h("div", { class: "view", dataset: { view: name } });
  try {
    await module.render(fresh, params, { user, navigate: (values) => navigate(name, values), refresh: () => render(true) });
    if (ticket !== rendering) return;
    view.replaceChildren(fresh);
  } catch (error) {
    if (ticket !== rendering) return;
    if (error instanceof SessionExpired) {
      expired(error.message);
      return;
    }
    view.replaceChildren(h("div", { class: "view", dataset: { view: name } }, h("h1", { tabindex: "-1" }, module.title), problem(error)));
  } finally {
    if (ticket === rendering) {
      view.removeAttribute("aria-busy");
      view.dataset.rendered = String(ticket);
    }
  }
  document.title = `${module.title} · Cost & Metrics console`;
  if (focus) view.querySelector("h1")?.focus();
}

async function onSignIn(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const username = form.elements.username.value.trim();
  const password = form.elements.password.value;
  const button = form.querySelector("button");
  if (!username || !password) {
    byId("sign-in-problem").textContent = "Give a user name and a password.";
    return;
  }
  button.disabled = true;
  byId("sign-in-problem").textContent = "";
  try {
    const result = await signIn(username, password);
    form.elements.password.value = "";
    if (result.challenge) {
      challenge = result;
      showSignIn("Choose a new password for this user.");
      return;
    }
    await render(true);
  } catch (error) {
    byId("sign-in-problem").textContent = describeSignIn(error);
  } finally {
    button.disabled = false;
  }
}

async function onNewPassword(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    await setNewPassword(challenge, form.elements.newPassword.value);
    challenge = null;
    form.elements.newPassword.value = "";
    await render(true);
  } catch (error) {
    byId("sign-in-problem").textContent = describeSignIn(error);
  } finally {
    button.disabled = false;
  }
}

function describeSignIn(error) {
  if (error instanceof ApiError) return `Sign-in refused (${error.code}): ${error.message}`;
  return `Sign-in failed: ${error.message || error}`;
}

function start() {
  byId("sign-in-form").addEventListener("submit", onSignIn);
  byId("new-password-form").addEventListener("submit", onNewPassword);
  byId("sign-out").addEventListener("click", () => {
    endSession();
    challenge = null;
    showSignIn("You are signed out.");
  });
  byId("skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    byId("main").focus();
  });
  window.addEventListener("hashchange", () => {
    if (location.hash.startsWith("#/") || location.hash === "") render(true);
  });
  // A later action of a view (a page of the log, a save) may find the session over.
  window.addEventListener("unhandledrejection", (event) => {
    if (event.reason instanceof SessionExpired) {
      event.preventDefault();
      expired(event.reason.message);
    }
  });
  render(false);
}

start();
