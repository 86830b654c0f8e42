// Budgets and alerts: the agents over budget (/api/cost-analysis/budget-alerts), those on course to be
// (/api/cost-analysis/agents), and the workspace's alert settings (admins edit them).

import { get, put } from "./api.js";
import { about, announce, attempt, figures, field, heading, monthPicker, note, section, table } from "./common.js";
import { h } from "./dom.js";
import { integer, money, monthName, percent, ratioPercent } from "./format.js";

export const title = "Budgets and alerts";

const SETTINGS = "/api/cost-analysis/budget-alerts/settings";

function settingsForm(current, onSaved) {
  const thresholds = h("input", {
    name: "thresholds",
    type: "text",
    inputmode: "numeric",
    value: current.thresholds.join(", "),
    required: true,
  });
  const forecast = h("input", { name: "forecast", type: "checkbox", checked: current.forecast, id: "forecast-alert" });
  const outcome = h("div", { class: "outcome" });
  const form = h(
    "form",
    { class: "edit", dataset: { write: "alert-settings" }, "aria-label": "Alert settings" },
    field("Thresholds (% of the budget)", thresholds, "Up to 5 percentages from 1 to 1000, separated by commas, e.g. 80, 100"),
    h("p", { class: "check" }, forecast, h("label", { for: "forecast-alert" }, "Alert when the month-end forecast exceeds the budget")),
    h("p", {}, h("button", { type: "submit" }, "Save the alert settings")),
    outcome,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = thresholds.value
      .split(/[\s,;]+/)
      .filter(Boolean)
      .map((text) => (/^\d+$/.test(text) ? Number(text) : text));
    const saved = await attempt(outcome, () => put(SETTINGS, { ...current, thresholds: values, forecast: forecast.checked }));
    if (saved) {
      outcome.replaceChildren(
        h("p", { class: "done", role: "status" }, `Saved: thresholds ${saved.thresholds.join(", ")}%, forecast alert ${saved.forecast ? "on" : "off"}.`),
      );
      announce("Alert settings saved");
      Object.assign(current, saved);
      onSaved(saved);
    }
  });
  return form;
}

export async function render(view, params, ctx) {
  const month = params.get("month") || undefined;
  const [alerts, agentCosts, settings] = await Promise.all([
    get("/api/cost-analysis/budget-alerts", { month }),
    get("/api/cost-analysis/agents", { month }),
    get(SETTINGS),
  ]);
  const shown = alerts.month;
  const forecastOnly = agentCosts.agents.filter((a) => a.forecastOverBudget && !a.overBudget);
  const budgeted = agentCosts.agents.filter((a) => Number(a.budget) > 0);

  view.append(
    ...heading(`Budgets and alerts, ${monthName(shown)}`, "Which agents spend past their monthly budget, and when the workspace is told."),
    monthPicker(shown, (chosen) => ctx.navigate({ month: chosen })),
    figures([
      { key: "alertCount", label: "Agents over budget", value: integer(alerts.alertCount) },
      { key: "forecastCount", label: "On course to exceed", value: integer(forecastOnly.length), note: "forecast over budget, not over yet" },
      { key: "budgetedCount", label: "Agents with a budget", value: integer(budgeted.length) },
    ]),
  );
  if (!agentCosts.agents.length) {
    view.append(note(`No agent in the registry in ${monthName(shown)}: budgets are set per agent (Admin).`, "empty"));
  }

  view.append(
    section(
      "Over budget",
      table({
        caption: `Agents over their budget, ${monthName(shown)}, largest overage first`,
        rowKey: (a) => a.agentId,
        empty: `No agent is over its budget in ${monthName(shown)}.`,
        rows: alerts.alerts,
        columns: [
          { key: "agent", label: "Agent", cell: (a) => [a.agentName, h("span", { class: "sub" }, a.agentId)] },
          { key: "model", label: "Model", cell: (a) => a.modelName || "—" },
          { key: "actualCost", label: "Spent", numeric: true, cell: (a) => money(a.actualCost) },
          { key: "budget", label: "Budget", numeric: true, cell: (a) => money(a.budget) },
          { key: "overage", label: "Overage", numeric: true, cell: (a) => money(a.overage) },
          { key: "overagePct", label: "Overage %", numeric: true, cell: (a) => percent(a.overagePct) },
          { key: "projectedCost", label: "Projected", numeric: true, cell: (a) => money(a.projectedCost) },
        ],
      }),
    ),
    section(
      "On course to exceed",
      table({
        caption: "Agents whose month-end projection exceeds their budget",
        rowKey: (a) => a.id,
        empty: "No other agent is forecast to exceed its budget.",
        rows: forecastOnly,
        columns: [
          { key: "agent", label: "Agent", cell: (a) => [a.name, h("span", { class: "sub" }, a.id)] },
          { key: "actualCost", label: "Spent", numeric: true, cell: (a) => money(a.actualCost) },
          { key: "budget", label: "Budget", numeric: true, cell: (a) => money(a.budget) },
          { key: "utilization", label: "Utilisation", numeric: true, cell: (a) => ratioPercent(a.utilization) },
          { key: "projectedCost", label: "Projected", numeric: true, cell: (a) => money(a.projectedCost) },
        ],
      }),
    ),
  );

  const thresholdsShown = h("dd", { dataset: { figure: "thresholds" } });
  const forecastShown = h("dd", { dataset: { figure: "forecast" } });
  const show = (current) => {
    thresholdsShown.textContent = current.thresholds.map((t) => `${t}%`).join(", ");
    forecastShown.textContent = current.forecast ? "on" : "off";
  };
  show(settings);
  const settingsBody = h(
    "div",
    {},
    h("dl", { class: "settings" }, h("dt", {}, "Thresholds"), thresholdsShown, h("dt", {}, "Forecast alert"), forecastShown),
    note(
      "Each agent with a budget gets at most one notice per threshold and month (and one forecast notice), " +
        "published to the stack's budget-alert SNS topic with the workspace_id attribute.",
    ),
  );
  if (ctx.user.isAdmin) {
    settingsBody.append(settingsForm({ ...settings }, show));
  } else {
    settingsBody.append(note("Only an admin of the workspace changes the alert settings.", "muted"));
  }
  view.append(section("Alert settings", settingsBody));

  view.append(
    section(
      "Notices sent",
      note(
        "The API does not list the notices already sent: the budget-alert function records them for itself " +
          "and publishes each to the stack's SNS topic (the BudgetAlertTopicArn output). Subscribe an e-mail " +
          "address, a queue or an HTTPS endpoint to it, filtered on workspace_id, to receive them.",
      ),
    ),
    about([
      ["Over budget", "Month-to-date cost above the agent's monthly budget; overage = spent − budget, overage % = overage ÷ budget × 100. A budget of 0 means no budget."],
      ["On course to exceed", "Not over yet, but the projection (month-to-date cost ÷ elapsed fraction of the month) is above the budget, from the month's third day."],
      ["Thresholds", "Percentages of the budget; a notice goes out once per agent, month and threshold when month-to-date cost passes it."],
      ["Forecast alert", "One notice per agent and month when its projection exceeds its budget."],
    ]),
  );
}
