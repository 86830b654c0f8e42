// Recommendations: cheaper models of the same provider that are good enough for each agent's work
// (/api/cost-analysis/recommendations), with the reason and the estimated savings.

import { get } from "./api.js";
import { about, figures, heading, monthPicker, note, section, table } from "./common.js";
import { h } from "./dom.js";
import { integer, money, monthName, percent, price } from "./format.js";

export const title = "Recommendations";

export async function render(view, params, ctx) {
  const month = params.get("month") || undefined;
  const answer = await get("/api/cost-analysis/recommendations", { month });
  const shown = answer.month;
  view.append(
    ...heading(`Recommendations, ${monthName(shown)}`, "Models that would do each agent's work for less, and what switching would save."),
    monthPicker(shown, (chosen) => ctx.navigate({ month: chosen })),
    figures([
      { key: "totalPotentialSavings", label: "Total potential savings", value: money(answer.totalPotentialSavings), note: "a month, if every recommendation is followed" },
      { key: "recommendationCount", label: "Recommendations", value: integer(answer.recommendations.length) },
    ]),
  );
  if (!answer.recommendations.length) {
    view.append(
      note(
        `No recommendation for ${monthName(shown)}: no agent had cost, or each is already on the cheapest ` +
          "model of its provider that suits its work.",
        "empty",
      ),
    );
  }
  view.append(
    section(
      "By agent",
      table({
        caption: `Recommendations, ${monthName(shown)}, largest savings first`,
        rowKey: (r) => r.agentId,
        empty: "Nothing to recommend.",
        rows: answer.recommendations,
        columns: [
          { key: "agent", label: "Agent", cell: (r) => [r.agentName, h("span", { class: "sub" }, r.agentId)] },
          { key: "models", label: "Switch", cell: (r) => [r.currentModel, " → ", h("strong", {}, r.recommendedModel)] },
          { key: "currentCost", label: "Cost this month", numeric: true, cell: (r) => money(r.currentCost) },
          { key: "savingsPct", label: "Savings %", numeric: true, cell: (r) => percent(r.savingsPct) },
          { key: "estimatedMonthlySavings", label: "Estimated monthly savings", numeric: true, cell: (r) => money(r.estimatedMonthlySavings) },
          {
            key: "prices",
            label: "Input / output price per million tokens",
            cell: (r) =>
              `${price(r.currentInputPrice)} / ${price(r.currentOutputPrice)} → ${price(r.recommendedInputPrice)} / ${price(r.recommendedOutputPrice)}`,
          },
          { key: "reason", label: "Reason", cell: (r) => h("span", { class: "reason" }, r.reason) },
        ],
      }),
    ),
    about([
      ["The tier an agent's work needs", "From its task types this month (classification, extraction, summarization: economy; writing, research, coding or unknown: standard; planning: flagship), raised by long outputs (over 2,000 tokens per call) or an error rate above 5%."],
      ["Recommended model", "The model of the same provider, at or above that tier, that would cost least for the agent's own mix of input, output and cache tokens, when it is cheaper than the current one."],
      ["Estimated monthly savings", "This month's cost of the agent's main model minus the same tokens at the recommended model's prices, projected to the full month (a past month is complete)."],
      ["Savings %", "(current cost − re-priced cost) ÷ current cost × 100. Total potential savings is the sum of the estimates."],
    ]),
  );
}
