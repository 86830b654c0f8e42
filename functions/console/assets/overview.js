// Overview: a month's spend, budget utilisation and projection, spend by provider and model, and every agent
// by cost with its budget use. Figures are the API's: /api/cost-analysis/summary, /by-provider, /by-model
// and /agents for the same month.

import { get } from "./api.js";
import { barList, utilisationBar } from "./charts.js";
import { about, badge, figures, heading, monthPicker, note, section, table } from "./common.js";
import { h } from "./dom.js";
import { cents, integer, money, monthName, percent, ratioPercent } from "./format.js";

export const title = "Overview";

/** The workspace's projected month-end cost: the sum of the agents' projectedCost, summed in cents. */
export function projectedTotal(agents) {
  return agents.reduce((sum, agent) => sum + cents(agent.projectedCost), 0) / 100;
}

export async function render(view, params, ctx) {
  const month = params.get("month") || undefined;
  const [summary, providers, models, agentCosts] = await Promise.all([
    get("/api/cost-analysis/summary", { month }),
    get("/api/cost-analysis/by-provider", { month }),
    get("/api/cost-analysis/by-model", { month }),
    get("/api/cost-analysis/agents", { month }),
  ]);
  const shown = summary.month;
  const agents = [...agentCosts.agents].sort(
    (a, b) => cents(b.actualCost) - cents(a.actualCost) || String(a.id).localeCompare(String(b.id)),
  );
  const empty = agents.length === 0 && cents(summary.totalSpend) === 0;

  view.append(
    ...heading(`Overview, ${monthName(shown)}`, "What the workspace spends this month, against the agents' budgets."),
    monthPicker(shown, (chosen) => ctx.navigate({ month: chosen })),
  );
  if (empty) {
    view.append(
      note(
        `No agents and no cost in ${monthName(shown)}. Register agents (Admin) and send their events to ` +
          "POST /api/activity: costs show here within seconds of ingestion.",
        "empty",
      ),
    );
  }
  view.append(
    figures([
      { key: "totalSpend", label: "Total spend", value: money(summary.totalSpend), note: "month to date, priced tokens" },
      { key: "budgetTotal", label: "Budgets", value: money(summary.budget.total), note: "sum of the agents' monthly budgets" },
      {
        key: "budgetUtilization",
        label: "Budget utilisation",
        value: ratioPercent(summary.budget.utilization),
        note: cents(summary.budget.total) > 0 ? "spend ÷ budgets" : "no budget set",
      },
      { key: "projectedCost", label: "Projected month-end cost", value: money(projectedTotal(agents)), note: "at each agent's run rate" },
      { key: "agentCount", label: "Agents", value: integer(summary.agentCount), note: "in the registry this month" },
      { key: "providerCount", label: "Providers with cost", value: integer(summary.providerCount) },
    ]),
  );
  if (summary.unpricedTokens > 0) {
    view.append(
      note(
        `${integer(summary.unpricedTokens)} tokens of models without a price are not in these costs: ` +
          `${summary.unpricedModels.join(", ")}. An admin can price them (Admin, prices).`,
        "warning",
      ),
    );
  }

  const charts = h(
    "div",
    { class: "chart-pair" },
    barList({
      title: "Spend by provider",
      figure: "provider",
      empty: "No spend by any provider this month.",
      rows: providers.providers.map((p) => ({
        key: p.providerId,
        label: p.providerName,
        value: cents(p.totalCost),
        text: money(p.totalCost),
        note: `${integer(p.totalTokens)} tokens`,
      })),
    }),
    barList({
      title: "Spend by model",
      figure: "model",
      empty: "No spend on any model this month.",
      rows: models.models.map((m) => ({
        key: m.model,
        label: m.model,
        value: cents(m.totalCost),
        text: money(m.totalCost),
        note: `${percent(m.pctOfTotal)} of spend`,
      })),
    }),
  );
  view.append(section("Where the money goes", charts));

  view.append(
    section(
      "Agents by cost",
      table({
        caption: `Agents by month-to-date cost, ${monthName(shown)}`,
        rowKey: (a) => a.id,
        empty: "No agent in the registry this month, and none with activity.",
        rows: agents,
        columns: [
          { key: "name", label: "Agent", cell: (a) => [a.name, a.name !== a.id ? h("span", { class: "sub" }, a.id) : null] },
          { key: "department", label: "Department", cell: (a) => a.department || "—" },
          { key: "model", label: "Model", cell: (a) => a.modelName || "—" },
          { key: "actualCost", label: "Spent", numeric: true, cell: (a) => money(a.actualCost) },
          { key: "budget", label: "Budget", numeric: true, cell: (a) => (cents(a.budget) > 0 ? money(a.budget) : "none") },
          {
            key: "utilization",
            label: "Utilisation",
            cell: (a) =>
              h(
                "span",
                { class: "utilisation-cell" },
                utilisationBar(a.utilization, cents(a.budget) > 0),
                h("span", { class: "num", dataset: { value: "" } }, ratioPercent(a.utilization)),
              ),
          },
          { key: "projectedCost", label: "Projected", numeric: true, cell: (a) => money(a.projectedCost) },
          {
            key: "flags",
            label: "Budget state",
            cell: (a) => {
              const marks = [
                a.overBudget ? badge("Over budget", "over") : null,
                a.forecastOverBudget ? badge("Forecast over budget", "forecast") : null,
              ].filter(Boolean);
              return marks.length ? marks : "—";
            },
          },
        ],
      }),
    ),
  );

  view.append(
    about([
      ["Total spend", "The cost of the month's model invocations at the prices in force when each ran (workspace price first, then the catalog): input, cache and output tokens. Tokens of unpriced models are counted, not costed."],
      ["Budgets and utilisation", "Budgets is the sum of the agents' monthly budgets (cost_budget_monthly) as the registry stood in the month; utilisation is total spend ÷ budgets (0 when no agent has a budget)."],
      ["Projected month-end cost", "The sum of the agents' projected costs: each agent's month-to-date cost ÷ the elapsed fraction of the month (its run rate to the month's end). A past month's projection is its actual cost."],
      ["Over budget", "The agent's month-to-date cost is above its budget (a budget of 0 means none)."],
      ["Forecast over budget", "The agent's projection is above its budget, from the third day of the month on (at once when it is already over)."],
      ["Spend by provider and model", "The month's cost per provider and per model, largest first; a model's share is its cost ÷ the workspace's month cost."],
    ]),
  );
}
