// Admin: the agent registry (/api/agents: register, edit a budget) and the workspace's prices
// (/api/cost-analysis/pricing). Viewers see the same lists without any control that changes them.

import { config, get, patch, put } from "./api.js";
import { about, announce, attempt, field, heading, note, section, select, table } from "./common.js";
import { h, uid } from "./dom.js";
import { money, plain, price, timestamp } from "./format.js";

export const title = "Admin";

const LABELS = {
  name: "Name",
  status: "Status",
  category: "Category",
  department: "Department",
  role_title: "Role title",
  model_provider: "Model provider",
  model_name: "Model",
  human_equivalent_salary: "Human-equivalent salary (USD a year)",
  estimated_hours_saved: "Hours saved a month",
  cost_budget_monthly: "Monthly budget (USD)",
};
const AMOUNTS = new Set(["human_equivalent_salary", "estimated_hours_saved", "cost_budget_monthly"]);
const PRICE_LABELS = {
  provider: "Provider",
  category: "Tier",
  inputPricePerMillion: "Input, USD per million tokens",
  outputPricePerMillion: "Output, USD per million tokens",
  cacheReadPricePerMillion: "Cache read, USD per million tokens",
  cacheWritePricePerMillion: "Cache write, USD per million tokens",
  effectiveFrom: "Effective from (UTC)",
};

function agentPath(id) {
  return `/api/agents/${encodeURIComponent(id)}`;
}

function budgetForm(agent, onSaved) {
  const input = h("input", {
    type: "number",
    name: "cost_budget_monthly",
    min: "0",
    step: "0.01",
    inputmode: "decimal",
    value: String(agent.cost_budget_monthly),
    "aria-label": `Monthly budget of ${agent.name} (USD)`,
  });
  const outcome = h("span", { class: "outcome" });
  const form = h(
    "form",
    { class: "inline", dataset: { write: "agent-budget", agent: agent.id } },
    input,
    " ",
    h("button", { type: "submit", "aria-label": `Save the budget of ${agent.name}` }, "Save"),
    outcome,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    // A merge patch: the budget changes, and nothing else (not even a change someone made meanwhile).
    const saved = await attempt(outcome, () => patch(agentPath(agent.id), { cost_budget_monthly: Number(input.value) }));
    if (saved) {
      outcome.replaceChildren(h("span", { class: "done", role: "status" }, ` Saved: ${money(saved.cost_budget_monthly)}`));
      announce(`Budget of ${saved.name} saved`);
      onSaved(saved);
    }
  });
  return form;
}

function registerForm(agents, onSaved) {
  const id = h("input", { name: "id", type: "text", required: true, autocomplete: "off", pattern: "[A-Za-z0-9][A-Za-z0-9._:\\-]{0,63}" });
  const controls = {};
  const fields = [field("Agent id", id, "Letters, digits and . _ : -, as events name it (agentId)")];
  for (const name of config.agentFields) {
    let control;
    if (name === "status") {
      control = select(name, config.agentStatuses.map((s) => [s, s]), "online");
    } else if (AMOUNTS.has(name)) {
      control = h("input", { name, type: "number", min: "0", step: "0.01", inputmode: "decimal", value: "0" });
    } else {
      control = h("input", { name, type: "text", required: name === "name", autocomplete: "off" });
    }
    controls[name] = control;
    fields.push(field(LABELS[name] || name, control));
  }
  const outcome = h("div", { class: "outcome" });
  const form = h(
    "form",
    { class: "edit grid", dataset: { write: "agent-register" }, "aria-label": "Register an agent" },
    fields,
    h("p", { class: "actions" }, h("button", { type: "submit" }, "Register the agent")),
    outcome,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const agentId = id.value.trim();
    if (agents.some((a) => a.id === agentId)) {
      outcome.replaceChildren(h("p", { class: "problem", role: "alert" }, `${agentId} is already registered: change its budget in the table above.`));
      return;
    }
    // PUT takes every field: an empty one is sent as null (none), and the API names each it refuses.
    const body = {};
    for (const [name, control] of Object.entries(controls)) {
      const value = control.value.trim();
      if (value === "") body[name] = null;
      else body[name] = AMOUNTS.has(name) ? Number(value) : value;
    }
    const saved = await attempt(outcome, () => put(agentPath(agentId || "-"), body));
    if (saved) {
      outcome.replaceChildren(h("p", { class: "done", role: "status" }, `Registered ${saved.name} (${saved.id}).`));
      announce(`Agent ${saved.id} registered`);
      form.reset();
      onSaved(saved);
    }
  });
  return form;
}

function priceForm(models, onSaved) {
  const listId = uid("models");
  const model = h("input", { name: "modelId", type: "text", list: listId, required: true, autocomplete: "off" });
  const controls = {};
  const fields = [
    field("Model id", model, "A model of the catalog (its current price is filled in) or a new one"),
    h("datalist", { id: listId }, models.map((m) => h("option", { value: m.id }))),
  ];
  for (const name of config.priceFields) {
    let control;
    if (name === "category") control = select(name, [["", "(the model's)"], ...config.tiers.map((t) => [t, t])], "");
    else if (name === "effectiveFrom") control = h("input", { name, type: "datetime-local", step: "1" });
    else if (name === "provider") control = h("input", { name, type: "text", autocomplete: "off" });
    else control = h("input", { name, type: "number", min: "0", step: "any", inputmode: "decimal" });
    controls[name] = control;
    fields.push(field(PRICE_LABELS[name] || name, control, name === "effectiveFrom" ? "empty: now" : null));
  }
  model.addEventListener("change", () => {
    const known = models.find((m) => m.id === model.value.trim());
    if (!known) return;
    for (const [name, control] of Object.entries(controls)) {
      if (name !== "effectiveFrom" && known[name] !== undefined && known[name] !== null) control.value = String(known[name]);
    }
  });
  const outcome = h("div", { class: "outcome" });
  const form = h(
    "form",
    { class: "edit grid", dataset: { write: "price" }, "aria-label": "Set a workspace price" },
    fields,
    h("p", { class: "actions" }, h("button", { type: "submit" }, "Set the price")),
    outcome,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const modelId = model.value.trim();
    // A priced model gets a merge patch of the fields filled in (an empty one keeps the model's); a new
    // model a PUT of every field (an empty one is null: none, or a 400 that names it).
    const priced = models.some((m) => m.id === modelId);
    const body = {};
    for (const [name, control] of Object.entries(controls)) {
      const value = control.value.trim();
      if (value === "") {
        if (!priced && name !== "effectiveFrom") body[name] = null;
      } else if (name === "effectiveFrom") body[name] = value.length === 16 ? `${value}:00Z` : `${value}Z`;
      else if (name === "provider" || name === "category") body[name] = value;
      else body[name] = Number(value);
    }
    const path = `/api/cost-analysis/pricing/${encodeURIComponent(modelId || "-")}`;
    const saved = await attempt(outcome, () => (priced ? patch(path, body) : put(path, body)));
    if (saved) {
      outcome.replaceChildren(
        h("p", { class: "done", role: "status" }, `${saved.id}: ${price(saved.inputPricePerMillion)} input, ${price(saved.outputPricePerMillion)} output per million tokens from ${timestamp(saved.effectiveFrom)}.`),
      );
      announce(`Price of ${saved.id} set`);
      onSaved(saved);
    }
  });
  return form;
}

export async function render(view, params, ctx) {
  const [registry, pricing] = await Promise.all([get("/api/agents"), get("/api/cost-analysis/pricing")]);
  const admin = ctx.user.isAdmin;
  view.append(
    ...heading("Admin", admin ? "The workspace's agents and the prices it pays." : "The workspace's agents and prices, read only."),
  );
  if (!admin) view.append(note("Changes need the admin group: a viewer reads the registry and the prices only.", "muted"));

  const agentRows = registry.agents;
  const agentsTable = h("div", {});
  const drawAgents = () =>
    agentsTable.replaceChildren(
      table({
        caption: "The agent registry",
        rowKey: (a) => a.id,
        empty: "No agent is registered yet.",
        rows: agentRows,
        columns: [
          { key: "name", label: "Agent", cell: (a) => [a.name, h("span", { class: "sub" }, a.id)] },
          { key: "status", label: "Status", cell: (a) => a.status },
          { key: "department", label: "Department", cell: (a) => a.department || "—" },
          { key: "model", label: "Model", cell: (a) => [a.model_name || "—", a.model_provider ? h("span", { class: "sub" }, a.model_provider) : null] },
          { key: "salary", label: "Salary a year", numeric: true, cell: (a) => money(a.human_equivalent_salary) },
          { key: "hours", label: "Hours saved a month", numeric: true, cell: (a) => plain(a.estimated_hours_saved) },
          {
            key: "budget",
            label: "Monthly budget",
            numeric: !admin,
            cell: (a) =>
              admin
                ? budgetForm(a, (saved) => {
                    agentRows.splice(agentRows.findIndex((r) => r.id === saved.id), 1, saved);
                  })
                : money(a.cost_budget_monthly),
          },
        ],
      }),
    );
  drawAgents();
  const agentsSection = section("Agents", agentsTable);
  if (admin) {
    agentsSection.append(
      h("h3", {}, "Register an agent"),
      registerForm(agentRows, (saved) => {
        agentRows.push(saved);
        agentRows.sort((a, b) => a.id.localeCompare(b.id));
        drawAgents();
      }),
    );
  }
  view.append(agentsSection);

  const models = pricing.models;
  const pricesTable = h("div", {});
  const drawPrices = () =>
    pricesTable.replaceChildren(
      table({
        caption: "Prices this workspace pays now, per million tokens",
        rowKey: (m) => m.id,
        empty: "No model is priced.",
        rows: models,
        columns: [
          { key: "id", label: "Model", cell: (m) => [m.id, h("span", { class: "sub" }, m.provider)] },
          { key: "category", label: "Tier", cell: (m) => m.category },
          { key: "input", label: "Input", numeric: true, cell: (m) => price(m.inputPricePerMillion) },
          { key: "output", label: "Output", numeric: true, cell: (m) => price(m.outputPricePerMillion) },
          { key: "cacheRead", label: "Cache read", numeric: true, cell: (m) => price(m.cacheReadPricePerMillion) },
          { key: "cacheWrite", label: "Cache write", numeric: true, cell: (m) => price(m.cacheWritePricePerMillion) },
          { key: "source", label: "Source", cell: (m) => (m.source === "workspace" ? "this workspace" : "catalog") },
          {
            key: "scheduled",
            label: "Next change",
            cell: (m) => (m.scheduled ? `${price(m.scheduled.inputPricePerMillion)} / ${price(m.scheduled.outputPricePerMillion)} from ${timestamp(m.scheduled.effectiveFrom)}` : "—"),
          },
        ],
      }),
    );
  drawPrices();
  const pricesProblem = h("div", {});
  const pricesSection = section("Prices", pricesProblem, pricesTable);
  if (admin) {
    pricesSection.append(
      h("h3", {}, "Set a workspace price"),
      priceForm(models, async () => {
        const fresh = await attempt(pricesProblem, () => get("/api/cost-analysis/pricing"));
        if (fresh) {
          models.splice(0, models.length, ...fresh.models);
          drawPrices();
        }
      }),
    );
  }
  view.append(
    pricesSection,
    section(
      "Ingest keys",
      note(
        "This API has no ingest keys: a system that sends events signs in as a user of the ingest group " +
          "and posts them to POST /api/activity with its ID token. An administrator of the user pool creates such users.",
      ),
    ),
    about([
      ["Budget", "The agent's monthly cost budget in USD; 0 means no budget (never over budget, never alerted)."],
      ["Register", "PUT /api/agents/{id}: the agent is created with every field (an empty one as none); events can name it from then on. A budget is changed by a PATCH of that field alone."],
      ["Prices", "What the workspace pays now: its own price where it set one, else the catalog's. A price applies to events rolled up after it is set whose time is at or after its start; costs already counted never change."],
    ]),
  );
}
