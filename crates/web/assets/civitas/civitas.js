// Small enhancements on top of htmx, kept out of the pages for the Content-Security-Policy.
// While htmx replaces a region, mark it busy for screen readers; move focus to an error summary if one
// appears, so keyboard and screen-reader users land on it.
document.addEventListener("htmx:beforeRequest", (e) => {
  const target = e.detail.target;
  if (target) target.setAttribute("aria-busy", "true");
});
document.addEventListener("htmx:afterSettle", (e) => {
  const target = e.detail.target;
  if (target) target.removeAttribute("aria-busy");
});
document.addEventListener("DOMContentLoaded", () => {
  const summary = document.getElementById("error-summary");
  if (summary) summary.focus();
});
