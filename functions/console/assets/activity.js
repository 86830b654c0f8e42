// Activity: the log (/api/activity) with its four filters, newest first, paged by the API's cursor
// (pagination.nextToken, sent back with the same filters), and the filtered rows as a CSV file.

import { config, get } from "./api.js";
import { about, announce, attempt, field, heading, note, section, select, table } from "./common.js";
import { h } from "./dom.js";
import { integer, timestamp } from "./format.js";

export const title = "Activity";

const PAGE_SIZES = ["25", "50", "100", "250", "500"];
const DEFAULT_PAGE_SIZE = "50";
const CSV_COLUMNS = ["id", "createdAt", "agentId", "agentName", "eventType", "details", "ingestedAt"];
const CSV_MAX_ROWS = 100000;

/** "2026-03-17T08:01:44Z" (the API's form) -> "2026-03-17T08:01:44" (a datetime-local input's, read as UTC). */
function toInput(value) {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?)/.exec(value || "");
  return match ? match[1] : "";
}

/** A datetime-local value, read as UTC -> the API's ISO 8601 with Z. */
function fromInput(value) {
  if (!value) return "";
  return value.length === 16 ? `${value}:00Z` : `${value}Z`;
}

function filtersOf(params) {
  return {
    agentId: params.get("agentId") || "",
    eventType: params.get("eventType") || "",
    from: params.get("from") || "",
    to: params.get("to") || "",
  };
}

function details(value) {
  const text = JSON.stringify(value || {});
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
}

/** A CSV cell as the API's own CSV writes it: quoted when needed, formulas neutralised. */
function csvCell(value) {
  let text = value === null || value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
  const formula = /^[=+@\t\r]/.test(text) || (text.startsWith("-") && !Number.isFinite(Number(text)));
  if (formula) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(rows) {
  const lines = [CSV_COLUMNS.join(",")];
  for (const row of rows) lines.push(CSV_COLUMNS.map((column) => csvCell(row[column])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

function csvName(filters) {
  const parts = ["activity", filters.agentId, filters.eventType, filters.from && `from-${filters.from}`, filters.to && `to-${filters.to}`];
  return `${parts.filter(Boolean).join("_").replace(/[^A-Za-z0-9_.-]+/g, "-")}.csv`;
}

function filterForm(filters, pageSize, agents, ctx) {
  const known = agents.map((a) => [a.id, `${a.name} (${a.id})`]);
  if (filters.agentId && !agents.some((a) => a.id === filters.agentId)) known.push([filters.agentId, filters.agentId]);
  const agent = select("agentId", [["", "All agents"], ...known], filters.agentId);
  const type = select("eventType", [["", "All event types"], ...config.eventTypes.map((t) => [t, t])], filters.eventType);
  const from = h("input", { name: "from", type: "datetime-local", step: "1", value: toInput(filters.from) });
  const to = h("input", { name: "to", type: "datetime-local", step: "1", value: toInput(filters.to) });
  const size = select("limit", PAGE_SIZES.map((n) => [n, `${n} rows`]), pageSize);
  const form = h(
    "form",
    { class: "controls filters", "aria-label": "Filter the activity log" },
    field("Agent", agent),
    field("Event type", type),
    field("From (UTC)", from, "inclusive"),
    field("To (UTC)", to, "inclusive"),
    field("Page size", size),
    h("p", {}, h("button", { type: "submit" }, "Apply the filters"), " ", h("button", { type: "reset" }, "Clear")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.navigate({
      agentId: agent.value,
      eventType: type.value,
      from: fromInput(from.value),
      to: fromInput(to.value),
      limit: size.value === DEFAULT_PAGE_SIZE ? "" : size.value,
    });
  });
  form.addEventListener("reset", (event) => {
    event.preventDefault();
    ctx.navigate({});
  });
  return form;
}

export async function render(view, params, ctx) {
  const filters = filtersOf(params);
  const pageSize = PAGE_SIZES.includes(params.get("limit")) ? params.get("limit") : DEFAULT_PAGE_SIZE;
  const registry = await get("/api/agents");
  view.append(
    ...heading("Activity", "What every agent did, newest first: model calls, tool calls, tasks, sessions, errors, changes."),
    filterForm(filters, pageSize, registry.agents, ctx),
  );

  const results = h("div", { class: "results" });
  const problems = h("div", {});
  const exportArea = h("div", { class: "export" });
  view.append(problems, section("Events", exportArea, results));

  // The cursors of the pages seen: cursors[i] opens page i (undefined for the first).
  const cursors = [undefined];
  let page = 0;

  async function show(index) {
    const answer = await attempt(problems, () =>
      get("/api/activity", { ...filters, limit: pageSize, nextToken: cursors[index] }),
    );
    if (!answer) return;
    page = index;
    if (answer.pagination.nextToken) cursors[index + 1] = answer.pagination.nextToken;
    const first = index * Number(pageSize) + (answer.data.length ? 1 : 0);
    const last = index * Number(pageSize) + answer.data.length;
    const anyFilter = Object.values(filters).some(Boolean);
    const previous = h("button", { type: "button", disabled: index === 0 }, "Previous page");
    const next = h("button", { type: "button", disabled: !answer.pagination.nextToken }, "Next page");
    previous.addEventListener("click", () => show(page - 1).then(() => results.querySelector("caption")?.focus()));
    next.addEventListener("click", () => show(page + 1).then(() => results.querySelector("caption")?.focus()));
    results.replaceChildren(
      h(
        "p",
        { class: "count", dataset: { figure: "total" } },
        answer.pagination.total
          ? `Events ${integer(first)}–${integer(last)} of ${integer(answer.pagination.total)}`
          : "No events",
      ),
      table({
        caption: `Events, newest first, page ${index + 1}`,
        rowKey: (event) => event.id,
        empty: anyFilter ? "No event matches these filters." : "No activity yet: events sent to POST /api/activity show here.",
        rows: answer.data,
        columns: [
          { key: "createdAt", label: "Time (UTC)", cell: (e) => timestamp(e.createdAt) },
          { key: "agent", label: "Agent", cell: (e) => [e.agentName || e.agentId, h("span", { class: "sub" }, e.agentId)] },
          { key: "eventType", label: "Event type", cell: (e) => e.eventType },
          { key: "details", label: "Details", cell: (e) => h("code", {}, details(e.details)) },
          { key: "id", label: "Event id", cell: (e) => h("code", {}, e.id) },
        ],
      }),
      h("nav", { class: "pager", "aria-label": "Pages of events" }, previous, " ", next),
    );
    results.querySelector("caption")?.setAttribute("tabindex", "-1");
    announce(answer.pagination.total ? `Page ${index + 1} of the events` : "No events");
  }

  const download = h("button", { type: "button" }, "Download CSV");
  const progress = h("span", { class: "progress", role: "status" });
  download.addEventListener("click", async () => {
    download.disabled = true;
    const rows = [];
    let token;
    const done = await attempt(problems, async () => {
      do {
        const answer = await get("/api/activity", { ...filters, limit: config.activityPageLimit, nextToken: token });
        rows.push(...answer.data);
        token = answer.pagination.nextToken;
        progress.textContent = `${integer(rows.length)} of ${integer(answer.pagination.total)} events read…`;
      } while (token && rows.length < CSV_MAX_ROWS);
      return true;
    });
    download.disabled = false;
    if (!done) {
      progress.textContent = "";
      return;
    }
    const link = h("a", { href: URL.createObjectURL(new Blob([toCsv(rows)], { type: "text/csv" })), download: csvName(filters) });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    progress.textContent = `${integer(rows.length)} events saved to ${link.download}${token ? " (the first 100,000 only)" : ""}.`;
  });
  exportArea.append(h("p", {}, download, " ", progress));

  await show(0);
  view.append(
    note("Times are UTC. The filters are the API's: an agent, an event type, and a window whose ends are both included."),
    about([
      ["Order", "Newest first, by the time the event happened (createdAt), then by id."],
      ["Total", "The exact number of events matching the filters, from the rollups' per-day and per-hour counters."],
      ["Pages", "Each page continues from the last one by the API's cursor, so no event is shown twice or skipped while new ones arrive."],
      ["CSV", "Every event matching the filters (up to 100,000), with its details as JSON."],
    ]),
  );
}
