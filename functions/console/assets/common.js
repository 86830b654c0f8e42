// The building blocks every view uses: its heading, the month picker, figures, tables, notes and errors.

import { ApiError, SessionExpired } from "./api.js";
import { h, uid } from "./dom.js";

/** The view's heading (focused after navigation) and what the view is for. */
export function heading(title, intro) {
  return [h("h1", { tabindex: "-1", class: "view-title" }, title), intro ? h("p", { class: "intro" }, intro) : null];
}

/** A section with its own heading, named by it for assistive technology. */
export function section(title, ...children) {
  const id = uid("section");
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

/**
 * The month picker: a labelled <input type="month"> and a button. `month` is the month shown (the API's
 * answer when none was chosen: the API's current month); `choose(month)` navigates to it.
 */
export function monthPicker(month, choose, extra) {
  const id = uid("month");
  const input = h("input", { id, name: "month", type: "month", value: month || "", required: true, pattern: "\\d{4}-\\d{2}" });
  const form = h(
    "form",
    { class: "controls", "aria-label": "Choose the month" },
    h("p", {}, h("label", { for: id }, "Month (UTC)"), input),
    extra || null,
    h("p", {}, h("button", { type: "submit" }, "Show")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (/^\d{4}-(0[1-9]|1[0-2])$/.test(input.value)) choose(input.value, form);
  });
  return form;
}

/** Headline figures: [{key, label, value (text), note}] as a description list; each value names its figure. */
export function figures(items) {
  return h(
    "dl",
    { class: "figures" },
    items.map((item) =>
      h(
        "div",
        { class: `figure ${item.kind || ""}` },
        h("dt", {}, item.label),
        h("dd", { dataset: { figure: item.key } }, item.value),
        item.note ? h("dd", { class: "figure-note" }, item.note) : null,
      ),
    ),
  );
}

/**
 * A table: columns [{label, cell(row) -> text or node, numeric, key}], rows of the API. Each row carries its
 * `rowKey`, each cell its column key, so a reader (or a test) can find a figure. Wide tables scroll inside
 * a focusable region.
 */
export function table({ caption, columns, rows, rowKey, empty }) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  const captionId = uid("table");
  return h(
    "div",
    { class: "table-wrap", role: "region", tabindex: "0", "aria-labelledby": captionId },
    h(
      "table",
      {},
      h("caption", { id: captionId }, caption),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.numeric ? "num" : null }, c.label)))),
      h(
        "tbody",
        {},
        rows.map((row, index) =>
          h(
            "tr",
            { dataset: { key: rowKey ? rowKey(row, index) : String(index) } },
            columns.map((c, position) =>
              h(
                position === 0 ? "th" : "td",
                { scope: position === 0 ? "row" : null, class: c.numeric ? "num" : null, dataset: { col: c.key || "" } },
                c.cell(row, index),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

/** What the figures of a view mean, folded away until asked for. */
export function about(entries) {
  return h(
    "details",
    { class: "about" },
    h("summary", {}, "What these figures mean"),
    h(
      "dl",
      {},
      entries.map(([term, meaning]) => [h("dt", {}, term), h("dd", {}, meaning)]),
    ),
  );
}

export function note(text, kind) {
  return h("p", { class: `note ${kind || ""}` }, text);
}

export function badge(text, kind) {
  return h("span", { class: `badge ${kind}` }, text);
}

/** An error of the API (or Cognito) as the view shows it: the status, the code and the API's message. */
export function problem(error) {
  const text = error instanceof ApiError ? error.describe() : String((error && error.message) || error);
  return h("p", { class: "problem", role: "alert" }, text);
}

/** Calls `action`; an ApiError is shown in `where` (an expired session goes up to the sign-in). */
export async function attempt(where, action) {
  where.replaceChildren();
  try {
    return await action();
  } catch (error) {
    if (error instanceof SessionExpired) throw error;
    where.replaceChildren(problem(error));
    return undefined;
  }
}

/** A labelled form field: an <input>, <select> or <textarea> with its label (and a hint). */
export function field(label, control, hint) {
  const id = control.id || uid("field");
  control.id = id;
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) control.setAttribute("aria-describedby", hintId);
  return h(
    "p",
    { class: "field" },
    h("label", { for: id }, label),
    control,
    hint ? h("span", { class: "hint", id: hintId }, hint) : null,
  );
}

export function select(name, options, value) {
  return h(
    "select",
    { name },
    options.map(([optionValue, text]) =>
      h("option", { value: optionValue, selected: String(optionValue) === String(value ?? "") }, text),
    ),
  );
}

/** Announces a change to screen-reader users (a polite live region). */
export function announce(text) {
  const region = document.getElementById("announce");
  if (region) {
    region.textContent = "";
    requestAnimationFrame(() => {
      region.textContent = text;
    });
  }
}
