// Charts drawn here, in SVG: no chart library, nothing loaded from elsewhere. Bars are sized in the SVG's own
// units and stretched to their cell, so labels and values stay HTML text, readable at any width.

import { h, s, uid } from "./dom.js";

function fraction(value, max) {
  const v = Number(value) || 0;
  return max > 0 ? Math.max(0, Math.min(1, v / max)) : 0;
}

function bar(share, className) {
  return s(
    "svg",
    { class: `bar ${className || ""}`, viewBox: "0 0 100 10", preserveAspectRatio: "none", "aria-hidden": "true", focusable: "false" },
    s("rect", { class: "bar-track", x: 0, y: 0, width: 100, height: 10 }),
    s("rect", { class: "bar-fill", x: 0, y: 0, width: (share * 100).toFixed(2), height: 10 }),
  );
}

/**
 * A horizontal bar chart as a list: each row a label, its bar and its value as text.
 * rows: [{label, value, text, note, key}]; the bars are scaled to the largest value.
 */
export function barList({ title, rows, empty, figure }) {
  const id = uid("chart");
  const max = Math.max(0, ...rows.map((row) => Number(row.value) || 0));
  const body = rows.length
    ? h(
        "ol",
        { class: "bar-list", "aria-labelledby": id },
        rows.map((row) =>
          h(
            "li",
            { dataset: { figure, key: row.key } },
            h("span", { class: "bar-label" }, row.label),
            bar(fraction(row.value, max)),
            h("span", { class: "bar-value", dataset: { value: "" } }, row.text),
            row.note ? h("span", { class: "bar-note" }, row.note) : null,
          ),
        ),
      )
    : h("p", { class: "empty" }, empty);
  return h("figure", { class: "chart" }, h("figcaption", { id }, title), body);
}

/**
 * A budget utilisation bar: the share of the budget spent, a mark at the budget, over-budget in red.
 * utilization: the API's ratio (1.0 = the whole budget); scaled so that up to 150% shows.
 */
export function utilisationBar(utilization, hasBudget) {
  const u = Number(utilization) || 0;
  const scale = Math.max(1.5, u);
  const state = !hasBudget ? "none" : u > 1 ? "over" : u >= 0.8 ? "near" : "ok";
  return s(
    "svg",
    { class: `bar utilisation ${state}`, viewBox: "0 0 100 10", preserveAspectRatio: "none", "aria-hidden": "true", focusable: "false" },
    s("rect", { class: "bar-track", x: 0, y: 0, width: 100, height: 10 }),
    s("rect", { class: "bar-fill", x: 0, y: 0, width: ((Math.min(u, scale) / scale) * 100).toFixed(2), height: 10 }),
    hasBudget ? s("line", { class: "bar-budget", x1: (100 / scale).toFixed(2), x2: (100 / scale).toFixed(2), y1: 0, y2: 10 }) : null,
  );
}

/**
 * A column chart of a series over months, drawn at the pixel width of its container (redrawn when that
 * changes), with a table of the same figures for screen readers and for reading exact values.
 * points: [{label, value, text}]
 */
export function columnChart({ title, points, describe }) {
  const holder = h("div", { class: "columns" });
  const captionId = uid("chart");
  const figure = h(
    "figure",
    { class: "chart" },
    h("figcaption", { id: captionId }, title),
    holder,
  );

  function draw() {
    const width = Math.max(280, Math.floor(holder.clientWidth || 600));
    const height = 220;
    const left = 8;
    const bottom = 36;
    const top = 22;
    const max = Math.max(0, ...points.map((p) => Number(p.value) || 0));
    const slot = (width - left * 2) / Math.max(1, points.length);
    const columnWidth = Math.max(4, Math.min(48, slot * 0.6));
    const every = Math.ceil(points.length / Math.max(1, Math.floor((width - left * 2) / 56)));
    const graphic = s(
      "svg",
      { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": captionId, "aria-describedby": `${captionId}-desc` },
      s("desc", { id: `${captionId}-desc` }, describe),
      s("line", { class: "axis", x1: left, x2: width - left, y1: height - bottom, y2: height - bottom }),
      points.map((point, index) => {
        const share = fraction(point.value, max);
        const columnHeight = share * (height - bottom - top);
        const x = left + slot * index + (slot - columnWidth) / 2;
        const y = height - bottom - columnHeight;
        const showLabel = index % every === 0 || index === points.length - 1;
        return s(
          "g",
          {},
          s("rect", { class: "column", x: x.toFixed(1), y: y.toFixed(1), width: columnWidth.toFixed(1), height: Math.max(0, columnHeight).toFixed(1) }),
          showLabel && points.length <= 12
            ? s("text", { class: "column-value", x: (x + columnWidth / 2).toFixed(1), y: (y - 6).toFixed(1), "text-anchor": "middle" }, point.short || point.text)
            : null,
          showLabel
            ? s("text", { class: "column-label", x: (x + columnWidth / 2).toFixed(1), y: height - bottom + 18, "text-anchor": "middle" }, point.label)
            : null,
        );
      }),
    );
    holder.replaceChildren(graphic);
  }

  if (typeof ResizeObserver === "function") {
    let last = 0;
    new ResizeObserver(() => {
      const now = Math.floor(holder.clientWidth);
      if (now !== last) {
        last = now;
        draw();
      }
    }).observe(holder);
  }
  requestAnimationFrame(draw);
  return figure;
}
