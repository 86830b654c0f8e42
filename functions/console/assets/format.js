// How figures are written: the API's rounded values, never rounded again (money has 2 decimals,
// utilization 3, percentages 1), in en-US notation.

const MONEY = new Intl.NumberFormat("en-US", {
  style: "currency",
  currency: "USD",
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});
const INTEGER = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const ONE_DECIMAL = new Intl.NumberFormat("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const PLAIN = new Intl.NumberFormat("en-US", { maximumFractionDigits: 6 });
const COMPACT = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

function number(value) {
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

/** Dollars: 1234.5 -> "$1,234.50". */
export function money(value) {
  return MONEY.format(number(value));
}

/** A price per million tokens, with the decimals it has: 0.075 -> "$0.075". */
export function price(value) {
  if (value === null || value === undefined) return "—";
  const n = number(value);
  const digits = Math.min(6, Math.max(2, (String(value).split(".")[1] || "").length));
  return new Intl.NumberFormat("en-US", {
    style: "currency",
    currency: "USD",
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(n);
}

/** A ratio of the API (utilization, 3 decimals) as a percentage: 0.286 -> "28.6%". */
export function ratioPercent(value) {
  return `${ONE_DECIMAL.format(Math.round(number(value) * 1000) / 10)}%`;
}

/** A percentage of the API (1 decimal): 43.5 -> "43.5%". */
export function percent(value) {
  return `${ONE_DECIMAL.format(number(value))}%`;
}

export function integer(value) {
  return INTEGER.format(number(value));
}

/** A quantity with the decimals it has (hours, cost per task). */
export function plain(value) {
  return PLAIN.format(number(value));
}

export function compact(value) {
  return COMPACT.format(number(value));
}

/** Cents, exactly, from a money value of the API (2 decimals), for sums without floating-point drift. */
export function cents(value) {
  return Math.round(number(value) * 100);
}

const MONTHS = [
  "January", "February", "March", "April", "May", "June",
  "July", "August", "September", "October", "November", "December",
];

/** "2026-03" -> "March 2026". */
export function monthName(month) {
  const match = /^(\d{4})-(\d{2})$/.exec(month || "");
  return match ? `${MONTHS[Number(match[2]) - 1]} ${match[1]}` : String(month || "");
}

/** An ISO timestamp of the API as the console shows it: "2026-03-17 08:01:44 UTC". */
export function timestamp(value) {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(value || "");
  return match ? `${match[1]} ${match[2]} UTC` : String(value || "");
}
