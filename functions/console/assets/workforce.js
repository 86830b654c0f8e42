// Workforce: the fleet's cost against the human labour it replaces (/api/agents/workforce/summary and
// /agents), by department and agent, and the month-over-month trends (/api/agents/workforce/trends).

import { config, get } from "./api.js";
import { columnChart } from "./charts.js";
import { about, badge, field, figures, heading, monthPicker, note, section, select, table } from "./common.js";
import { h } from "./dom.js";
import { compact, integer, money, monthName, percent, plain, timestamp } from "./format.js";

export const title = "Workforce";

const SERIES = [
  ["total_cost", "Cost", money, (v) => `$${compact(v)}`],
  ["tasks_completed", "Tasks completed", integer, compact],
  ["invocations", "Model invocations", integer, compact],
  ["total_tokens", "Tokens", integer, compact],
  ["errors", "Errors", integer, compact],
  ["active_agents", "Active agents", integer, integer],
  ["avg_response_ms", "Average response (ms)", integer, compact],
];

function trendsSection(trends, params, ctx) {
  const chosen = SERIES.find(([key]) => key === params.get("series")) || SERIES[0];
  const [key, label, format, short] = chosen;
  const { min, max } = config.trendMonths;
  const monthsControl = select(
    "months",
    Array.from({ length: max - min + 1 }, (_, i) => [String(min + i), `${min + i} month${min + i === 1 ? "" : "s"}`]),
    trends.months,
  );
  const seriesControl = select("series", SERIES.map(([k, l]) => [k, l]), key);
  const form = h(
    "form",
    { class: "controls", "aria-label": "Trend settings" },
    field("Months of history", monthsControl),
    field("Figure", seriesControl),
    h("p", {}, h("button", { type: "submit" }, "Show the trend")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.navigate({ months: monthsControl.value, series: seriesControl.value });
  });
  const points = trends.trends.map((row) => ({
    label: row.period.slice(2).replace("-", "/"),
    value: Number(row[key]) || 0,
    text: format(row[key]),
    short: short(row[key]),
  }));
  const first = trends.trends[0];
  const last = trends.trends[trends.trends.length - 1];
  const chart = columnChart({
    title: `${label} per month, the last ${trends.months} month${trends.months === 1 ? "" : "s"}`,
    points,
    describe: first ? `${label} from ${monthName(first.period)} (${format(first[key])}) to ${monthName(last.period)} (${format(last[key])}).` : "No months.",
  });
  const rows = table({
    caption: "Trends by month, oldest first",
    rowKey: (row) => row.period,
    empty: "No months.",
    rows: trends.trends,
    columns: [
      { key: "period", label: "Month", cell: (row) => row.period },
      { key: "total_cost", label: "Cost", numeric: true, cell: (row) => money(row.total_cost) },
      { key: "tasks_completed", label: "Tasks", numeric: true, cell: (row) => integer(row.tasks_completed) },
      { key: "invocations", label: "Invocations", numeric: true, cell: (row) => integer(row.invocations) },
      { key: "total_tokens", label: "Tokens", numeric: true, cell: (row) => integer(row.total_tokens) },
      { key: "errors", label: "Errors", numeric: true, cell: (row) => integer(row.errors) },
      { key: "active_agents", label: "Active agents", numeric: true, cell: (row) => integer(row.active_agents) },
      { key: "avg_response_ms", label: "Avg response (ms)", numeric: true, cell: (row) => integer(row.avg_response_ms) },
    ],
  });
  return section("Trends", form, chart, h("details", { class: "data" }, h("summary", {}, "The figures as a table"), rows));
}

/** A projected figure of the API (null until the month has enough data) and why it is or is not there. */
function projection(value, summary, format) {
  const why = {
    run_rate: "month to date ÷ elapsed fraction of the month",
    month_complete: "the month's actual figure",
    too_early: `from ${timestamp(summary.projection_ready_at)}, once the month is 3 days old`,
    month_not_started: "the month has not started",
  }[summary.projection_status];
  return { value: value === null ? "—" : format(value), note: why };
}

export async function render(view, params, ctx) {
  const month = params.get("month") || undefined;
  const months = params.get("months") || undefined;
  const [summary, agents, trends] = await Promise.all([
    get("/api/agents/workforce/summary", { month }),
    get("/api/agents/workforce/agents", { month }),
    get("/api/agents/workforce/trends", { months }),
  ]);
  const shown = summary.month;
  view.append(
    ...heading(`Workforce, ${monthName(shown)}`, "What the fleet costs against the people it stands in for."),
    monthPicker(shown, (chosen) => ctx.navigate({ month: chosen, months: params.get("months"), series: params.get("series") })),
  );
  if (!summary.total_agents) {
    view.append(note("No agent in the registry: register agents with their human-equivalent salary and hours saved (Admin).", "empty"));
  }
  view.append(
    figures([
      { key: "total_agents", label: "Agents", value: integer(summary.total_agents), note: `${integer(summary.active_agents)} active, ${integer(summary.paused_agents)} paused, ${integer(summary.draft_agents)} draft` },
      { key: "total_agent_cost_monthly", label: "Agent cost", value: money(summary.total_agent_cost_monthly), note: "month to date" },
      { key: "monthly_human_equivalent", label: "Human equivalent", value: money(summary.monthly_human_equivalent), note: "salaries ÷ 12" },
      { key: "monthly_savings", label: "Savings", value: money(summary.monthly_savings) },
      { key: "roi_percent", label: "ROI", value: percent(summary.roi_percent), note: "month-to-date cost" },
      { key: "projected_roi_percent", label: "Projected ROI", ...projection(summary.projected_roi_percent, summary, percent) },
      {
        key: "events_while_paused",
        label: "Events while paused",
        value: integer(summary.events_while_paused),
        note: `${integer(summary.paused_agents_with_events)} paused or draft agents ran`,
      },
      { key: "total_hours_saved_monthly", label: "Hours saved", value: plain(summary.total_hours_saved_monthly), note: "a month, as registered" },
      { key: "total_tasks_completed", label: "Tasks completed", value: integer(summary.total_tasks_completed) },
      { key: "total_invocations", label: "Model invocations", value: integer(summary.total_invocations), note: `${integer(summary.total_errors)} errors` },
    ]),
    section(
      "By department",
      table({
        caption: `Departments, ${monthName(shown)}, largest savings first`,
        rowKey: (d) => d.department,
        empty: "No department: agents without one are grouped when they exist.",
        rows: summary.departments,
        columns: [
          { key: "department", label: "Department", cell: (d) => d.department },
          { key: "agent_count", label: "Agents", numeric: true, cell: (d) => integer(d.agent_count) },
          { key: "actual_cost_monthly", label: "Cost", numeric: true, cell: (d) => money(d.actual_cost_monthly) },
          { key: "monthly_human_equivalent", label: "Human equivalent", numeric: true, cell: (d) => money(d.monthly_human_equivalent) },
          { key: "monthly_savings", label: "Savings", numeric: true, cell: (d) => money(d.monthly_savings) },
          { key: "roi_percent", label: "ROI", numeric: true, cell: (d) => percent(d.roi_percent) },
          { key: "tasks_completed", label: "Tasks", numeric: true, cell: (d) => integer(d.tasks_completed) },
        ],
      }),
    ),
    section(
      "By agent",
      table({
        caption: `Agents' ROI, ${monthName(shown)}, largest savings first`,
        rowKey: (a) => a.id,
        empty: "No agent.",
        rows: agents,
        columns: [
          {
            key: "name",
            label: "Agent",
            cell: (a) => [
              a.name,
              h("span", { class: "sub" }, `${a.id} · ${a.status}`),
              a.activity_while_paused
                ? badge(`${integer(a.events_while_paused)} event${a.events_while_paused === 1 ? "" : "s"} while ${a.status}`, "paused")
                : null,
            ],
          },
          { key: "department", label: "Department", cell: (a) => a.department || "—" },
          { key: "actual_cost_monthly", label: "Cost", numeric: true, cell: (a) => money(a.actual_cost_monthly) },
          { key: "monthly_human_equivalent", label: "Human equivalent", numeric: true, cell: (a) => money(a.monthly_human_equivalent) },
          { key: "monthly_savings", label: "Savings", numeric: true, cell: (a) => money(a.monthly_savings) },
          { key: "roi_percent", label: "ROI", numeric: true, cell: (a) => percent(a.roi_percent) },
          { key: "projected_roi_percent", label: "Projected ROI", numeric: true, cell: (a) => (a.projected_roi_percent === null ? "—" : percent(a.projected_roi_percent)) },
          { key: "tasks_completed", label: "Tasks", numeric: true, cell: (a) => integer(a.tasks_completed) },
          { key: "cost_per_task", label: "Cost per task", numeric: true, cell: (a) => `$${plain(a.cost_per_task)}` },
          { key: "invocation_count", label: "Invocations", numeric: true, cell: (a) => integer(a.invocation_count) },
          { key: "error_count", label: "Errors", numeric: true, cell: (a) => integer(a.error_count) },
        ],
      }),
    ),
    trendsSection(trends, params, ctx),
    about([
      ["Human equivalent", "human_equivalent_salary ÷ 12 for each agent but drafts (a draft replaces no one): what the people the fleet stands in for would cost in a month."],
      ["Savings", "Human equivalent − the agents' month-to-date cost."],
      ["ROI", "Savings ÷ agent cost × 100 (0 when there is no cost). In a month in progress the cost is month to date, the human equivalent a whole month's."],
      ["Cost per task", "The agent's cost ÷ its completed tasks (0 without tasks), to 3 decimals."],
      ["Projected ROI", "Like for like in a month in progress: the month's cost projected at its run rate, against a whole month of human equivalent. None before the month is 3 days old."],
      ["Events while paused", "Events of agents whose status for the month is paused or draft: work nobody expected, flagged on the agent's row."],
      ["Active agents", "Agents whose status for the month is online or offline, in the summary and in the trends alike."],
      ["Trends", "One row per month, oldest first, ending with the current month; months without activity show zeros."],
    ]),
  );
}
